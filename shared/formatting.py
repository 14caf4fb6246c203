"""PO text to Telegram HTML, safely, split to Telegram's limit.

A pure module: no I/O. The sending component calls :func:`render_parts` for a
PO reply (or :func:`plain_parts` to send without a parse mode) and sends the
parts in order; :func:`escape` and :func:`split` serve code that builds HTML
itself.

Cleaning (done first, by :func:`render`, :func:`escape` and :func:`plain_parts`)
    Telegram replaces control characters with spaces and deletes ``\\r``, U+2028
    to U+202E (line/paragraph separators and bidi embeddings/overrides) and
    U+030A, U+0333, U+033F; a lone surrogate cannot even be encoded to UTF-8.
    We do it before counting, so what we count is what Telegram shows:
    ``\\r\\n`` and a lone ``\\r`` become ``\\n``; ANSI terminal escape sequences
    (``ESC[31m`` from tool output) are removed whole; the other control
    characters (C0 except ``\\t`` and ``\\n``, DEL, C1: noise from tools, not
    spacing) and the characters Telegram deletes are dropped; lone surrogates
    become U+FFFD. Tabs stay
    (Telegram shows them as one space: same length). Everything else (emoji,
    zero-width joiners, RTL marks, Cyrillic, NBSP) is kept as written.

Rendering (:func:`render`), a small predictable subset of Markdown
    * ``<``, ``>`` and ``&`` are always escaped: the user reads what the PO
      wrote. No raw HTML, no entity decoding (``&amp;`` reads ``&amp;``), no
      backslash escapes (Windows paths and regexes survive).
    * A line starting (after any indentation) with three or more backticks or
      tildes opens a fenced code block, closed by a line holding only a fence
      of the same character at least as long. It becomes ``<pre>``, with
      ``<code class="language-x">`` when the info string starts with a plain
      language name; its content is escaped and nothing else, minus up to the
      opening fence's indentation on each line (list items indent code).
      An unclosed fence runs to the end of the text: a streamed snapshot
      being written then shows its code as code.
    * ``# x`` .. ``###### x`` at the start of a line become bold.
    * A bare http(s) URL is text: ``_`` and ``*`` inside it are not markup
      (its trailing punctuation and markers are not part of it).
    * Inline markup never crosses a line: code spans (a run of N backticks to
      the next run of exactly N), ``**bold**``, ``*italic*``, ``***both***``,
      ``_italic_`` and ``[text](http(s)://url)``. An emphasis opener must be
      followed by a non-space and not preceded by a letter or digit, a closer
      the mirror image; so ``2*3*4``, ``snake_case_names``, ``* item`` and a
      lone ``*`` stay literal. ``__x__`` is not bold (it would eat the
      underscores of ``__init__``). A link needs a non-empty text without
      brackets and an http(s) URL of at most 2,048 characters, without
      spaces (one level of balanced parentheses allowed); anything else
      (``javascript:``) stays literal.
    * Lists, quotes, rules and tables stay text. The visible text is the
      cleaned PO text minus the markup characters consumed by well-formed
      constructs (markers, fence lines, heading hashes, code indentation).

Splitting (:func:`split`, :func:`render_parts`, :func:`plain_parts`)
    * A part's visible text (after entity parsing: what Telegram counts) is at
      most ``limit`` UTF-16 code units, and its HTML at most ``max_bytes``
      UTF-8 bytes, so that link-heavy text cannot make a huge request.
    * Cuts go at whitespace: the last paragraph break (a whitespace run with
      two or more newlines) in the second half of the room a part has, else
      the last line break there, else the last space there; failing all
      three, the last whitespace anywhere in the room; failing that (a word
      longer than the room), a hard cut, never inside a tag, an entity or a
      surrogate pair, and moved back so as not to separate a character from a
      following combining mark, variation selector, skin tone or ZWJ (nor a
      ZWJ from what it joins).
    * Whitespace rule: Telegram trims every message, so a part never starts
      or ends with whitespace (space, tab, newline, CR, VT, FF). The whole
      whitespace run at a cut is dropped (none at a hard cut), and so is the
      text's leading and trailing whitespace. A continued code block thus
      loses the indentation of its first line.
    * A part with nothing visible (only whitespace, zero-width characters,
      bidi marks, NBSP and other characters Telegram calls empty) is dropped:
      Telegram rejects such a message. Nothing visible at all gives ``[]``.
    * So, precisely: visible(text) == g0 + p0 + g1 + p1 + ... + pn + gN where
      p0..pn are the parts' visible texts and each gap g is a whitespace run
      at a cut (empty at a hard cut), the leading or trailing whitespace, or
      rarely a dropped empty part.
    * Elements open at a cut are closed at the end of the part and reopened,
      with their attributes, at the start of the next, so every part renders
      on its own (a ``<pre><code class=...>`` cut in two is code twice).
"""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import Final, NamedTuple

import msgspec

__all__ = [
    "MAX_HTML_BYTES",
    "MAX_UTF16",
    "Part",
    "escape",
    "plain_parts",
    "render",
    "render_parts",
    "split",
]

#: Telegram's limit on a message's text after entity parsing, in UTF-16 units.
MAX_UTF16: Final = 4096
#: Our own cap on one part's HTML (UTF-8 bytes). Ordinary text stays far
#: below it (4,096 escaped ``&`` take 20,480 bytes); many long links do not.
MAX_HTML_BYTES: Final = 32_768


class Part(msgspec.Struct, frozen=True):
    """One message: its HTML, and the same part's visible text for a plain resend."""

    html: str
    plain: str


# --------------------------------------------------------------------------
# Cleaning and escaping

_SURROGATE = re.compile("[\ud800-\udfff]")
# CSI ("ESC[31m") and terminated OSC sequences; a bare ESC is dropped with the controls.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b\n]*(?:\x07|\x1b\\))")
_NEWLINES = re.compile(r"\r\n?")
# Control characters, and what Telegram deletes from every message text.
_DROPPED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028-\u202e\u030a\u0333\u033f]")


def _clean(text: str) -> str:
    if _SURROGATE.search(text):
        # Joins well-formed pairs into one code point; a lone half becomes U+FFFD.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    text = _ANSI.sub("", text)
    text = _NEWLINES.sub("\n", text)
    return _DROPPED.sub("", text)


def _escape(text: str, *, quote: bool = False) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace('"', "&quot;") if quote else text


def escape(text: str, *, quote: bool = True) -> str:
    """``text`` made safe inside Telegram HTML, as text or (``quote``) an attribute value.

    Escapes ``&``, ``<``, ``>`` and, with ``quote``, ``"``; also cleans the
    text as the module docstring says (so a lone surrogate cannot break the
    request, and lengths counted later are what Telegram shows).
    """
    return _escape(_clean(text), quote=quote)


# --------------------------------------------------------------------------
# Rendering: blocks

_FENCE_OPEN = re.compile(r"(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>.*)")
_LANGUAGE = re.compile(r"[A-Za-z0-9_+#.-]{1,32}")
_HEADING = re.compile(r"#{1,6}[ \t]+(?=\S)")


def render(text: str) -> str:
    """PO text (plain text that may hold Markdown) as Telegram HTML that always parses."""
    lines = _clean(text).split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        fence = _opening_fence(lines[i])
        if fence is None:
            out.append(_render_line(lines[i]))
            i += 1
            continue
        end = _closing_fence(lines, i + 1, fence.group("fence"))
        out.append(_code_block(lines[i + 1 : end], fence))
        i = end + 1
    return "\n".join(out)


def _opening_fence(line: str) -> re.Match[str] | None:
    match = _FENCE_OPEN.fullmatch(line)
    # A backtick fence's info string holds no backtick: "```x```" is inline code.
    if match is None or (match.group("fence")[0] == "`" and "`" in match.group("info")):
        return None
    return match


def _closing_fence(lines: list[str], start: int, fence: str) -> int:
    closing = re.compile(rf"[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*")
    for index in range(start, len(lines)):
        if closing.fullmatch(lines[index]):
            return index
    return len(lines)


def _code_block(lines: list[str], fence: re.Match[str]) -> str:
    indent = len(fence.group("indent"))
    code = _escape("\n".join(_dedent(line, indent) for line in lines))
    info = fence.group("info").split()
    if info and _LANGUAGE.fullmatch(info[0]):
        language = _escape(info[0], quote=True)
        return f'<pre><code class="language-{language}">{code}</code></pre>'
    return f"<pre>{code}</pre>"


def _dedent(line: str, indent: int) -> str:
    stripped = len(line) - len(line.lstrip(" \t"))
    return line[min(stripped, indent) :]


def _render_line(line: str) -> str:
    heading = _HEADING.match(line)
    if heading:
        return f"<b>{_render_inline(line[heading.end() :])}</b>"
    return _render_inline(line)


# --------------------------------------------------------------------------
# Rendering: inline markup within one line


@dataclass(frozen=True, slots=True)
class _Delimiter:
    """A run of ``*`` or ``_``: emphasis if matched, literal text if not."""

    run: str
    can_open: bool
    can_close: bool


_Token = str | _Delimiter  # a str is finished HTML
_EMPHASIS: Final = {"*": ("<i>", "</i>"), "**": ("<b>", "</b>"), "***": ("<b><i>", "</i></b>")}
_EMPHASIS_RUNS: Final = frozenset({*_EMPHASIS, "_"})
_SPECIAL = re.compile(r"[`\[*_]|(?i:https?://)")
_BARE_URL = re.compile(r"(?i:https?)://\S*")
# Left out of a bare URL, as GitHub does, so "**https://x.com**" or "(see https://x.com)." work.
_URL_TRAILERS = "*_.,;:!?'\")]"
_BACKTICKS = re.compile(r"`+")
_LINK = re.compile(
    r"\[(?P<text>[^\[\]]+)\]"
    # A host character first keeps the rest deterministic (no backtracking blow-up).
    r"\((?P<url>(?i:https?)://[^\s()/?#](?:[^\s()]|\([^\s()]*\))*)\)"
)
_MAX_URL = 2048


def _render_inline(line: str) -> str:
    tokens = _tokenize(line)
    closers: dict[str, list[int]] = {}
    for index, token in enumerate(tokens):
        if isinstance(token, _Delimiter) and token.can_close:
            closers.setdefault(token.run, []).append(index)
    return _join(tokens, closers, 0, len(tokens))


def _tokenize(line: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(line):
        special = _SPECIAL.search(line, pos)
        start = special.start() if special else len(line)
        if start > pos:
            tokens.append(_escape(line[pos:start]))
        if special is None:
            break
        if line[start] == "`":
            token, pos = _code_span(line, start)
        elif line[start] in "hH":
            token, pos = _bare_url(line, start)
        elif line[start] == "[":
            token, pos = _link(line, start)
        else:
            token, pos = _delimiter(line, start)
        tokens.append(token)
    return tokens


@functools.lru_cache(maxsize=32)
def _backtick_run(size: int) -> re.Pattern[str]:
    return re.compile(rf"(?<!`)`{{{size}}}(?!`)")


def _code_span(line: str, start: int) -> tuple[_Token, int]:
    run = _BACKTICKS.match(line, start)
    assert run is not None  # the caller saw a backtick at start
    size = len(run.group())
    closing = _backtick_run(size).search(line, run.end())
    if closing is None:
        return run.group(), run.end()
    return f"<code>{_escape(line[run.end() : closing.start()])}</code>", closing.end()


def _link(line: str, start: int) -> tuple[_Token, int]:
    match = _LINK.match(line, start)
    if match is None or len(match.group("url")) > _MAX_URL:
        return "[", start + 1
    href = _escape(match.group("url"), quote=True)
    return f'<a href="{href}">{_render_inline(match.group("text"))}</a>', match.end()


def _bare_url(line: str, start: int) -> tuple[_Token, int]:
    """A URL outside a link is text: its ``_`` and ``*`` are not markup (Telegram links it)."""
    match = _BARE_URL.match(line, start)
    assert match is not None  # the caller saw "http(s)://" at start
    url = match.group().rstrip(_URL_TRAILERS)
    return _escape(url), start + len(url)


def _delimiter(line: str, start: int) -> tuple[_Token, int]:
    end = start
    while end < len(line) and line[end] == line[start]:
        end += 1
    run = line[start:end]
    before = line[start - 1] if start > 0 else " "
    after = line[end] if end < len(line) else " "
    if run not in _EMPHASIS_RUNS:
        return run, end
    can_open = not after.isspace() and not before.isalnum()
    can_close = not before.isspace() and not after.isalnum()
    return _Delimiter(run, can_open, can_close), end


def _join(tokens: list[_Token], closers: dict[str, list[int]], start: int, end: int) -> str:
    """HTML of ``tokens[start:end]``: each opener takes the nearest closer of its run."""
    out: list[str] = []
    index = start
    while index < end:
        token = tokens[index]
        if isinstance(token, str):
            out.append(token)
            index += 1
            continue
        closer = _next_closer(closers, token, index, end)
        if closer is None:
            out.append(token.run)
            index += 1
            continue
        # Inside (index, closer) no closer of this run exists: nesting depth is bounded.
        opening, closing = _EMPHASIS[token.run.replace("_", "*")]
        out.append(opening + _join(tokens, closers, index + 1, closer) + closing)
        index = closer + 1
    return "".join(out)


def _next_closer(
    closers: dict[str, list[int]], token: _Delimiter, index: int, end: int
) -> int | None:
    if not token.can_open:
        return None
    positions = closers.get(token.run, [])
    found = bisect.bisect_right(positions, index)
    if found < len(positions) and positions[found] < end:
        return positions[found]
    return None


# --------------------------------------------------------------------------
# Splitting: the HTML as tokens, and its visible text


class _Open(NamedTuple):
    name: str
    tag: str  # the start tag as written, attributes included, to reopen it


@dataclass(slots=True)
class _Document:
    """HTML as atoms (tags, entities, characters) and the visible text they make."""

    raws: list[str]  # every atom's source, in order
    visible: list[str]  # one character per visible atom
    atom_of: list[int]  # the atom index of each visible character
    open_at: list[tuple[_Open, ...]]  # the elements open around each visible character

    @property
    def text(self) -> str:
        return "".join(self.visible)


_HTML_ATOM = re.compile(
    # Possessive quantifiers: a "<" that never closes costs linear time, not quadratic.
    r"""<(?P<slash>/?)(?P<name>[^\s>]*+)(?:[^>"']|"[^"]*+"|'[^']*+')*+>"""
    r"|&(?P<entity>#[0-9]{1,8}|#x[0-9a-fA-F]{1,7}|[A-Za-z]++);?"
)
_NAMED_ENTITIES: Final = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _parse_html(html: str) -> _Document:
    document = _Document([], [], [], [])
    stack: tuple[_Open, ...] = ()
    pos = 0
    while (atom := _HTML_ATOM.search(html, pos)) is not None:
        for char in html[pos : atom.start()]:
            _add_char(document, char, char, stack)
        pos = atom.end()
        if atom.group("entity") is None:
            stack = _apply_tag(stack, atom)
            document.raws.append(atom.group())
            continue
        decoded = _decode_entity(atom.group("entity"))
        if decoded is None:  # Telegram reads a "&" that starts no entity literally
            _add_char(document, "&", "&", stack)
            pos = atom.start() + 1
        else:
            _add_char(document, atom.group(), decoded, stack)
    for char in html[pos:]:
        _add_char(document, char, char, stack)
    return document


def _add_char(document: _Document, raw: str, char: str, stack: tuple[_Open, ...]) -> None:
    document.atom_of.append(len(document.raws))
    document.raws.append(raw)
    document.visible.append(char)
    document.open_at.append(stack)


def _apply_tag(stack: tuple[_Open, ...], tag: re.Match[str]) -> tuple[_Open, ...]:
    if not tag.group("slash"):
        return (*stack, _Open(tag.group("name").lower(), tag.group()))
    # Valid Telegram HTML closes the innermost element; anything else is the caller's bug.
    return stack[:-1]


def _decode_entity(entity: str) -> str | None:
    if not entity.startswith("#"):
        return _NAMED_ENTITIES.get(entity)
    value = int(entity[2:], 16) if entity[1] == "x" else int(entity[1:])
    if 0 < value < 0x110000 and not 0xD800 <= value <= 0xDFFF:
        return chr(value)
    return None


def _plain_document(text: str) -> _Document:
    return _Document(list(text), list(text), list(range(len(text))), [()] * len(text))


# --------------------------------------------------------------------------
# Splitting: choosing the cuts

# What Telegram trims from a message: never kept at a part's edges.
_WHITESPACE: Final = frozenset(" \t\n\r\x0b\x0c")
# What Telegram calls empty (tdlib's strip_empty_characters): a part of only these is dropped.
_BLANK: Final = _WHITESPACE | frozenset(
    "\u00a0\u1680\u180e\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u200b\u200c\u200d\u200e\u200f\u202e\u202f\u205f\u2800\u3000\ufeff\ufffc"
)
_PARAGRAPH, _LINE, _WORD = 0, 1, 2


def _units(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def _is_blank(text: str) -> bool:
    return all(char in _BLANK or 0xE0000 <= ord(char) <= 0xE007F for char in text)


def _binds_to_previous(char: str) -> bool:
    """Whether ``char`` belongs with the character before it (a hard cut avoids it)."""
    code = ord(char)
    return (
        unicodedata.combining(char) != 0
        or char in "\u200d\u20e3"
        or 0xFE00 <= code <= 0xFE0F  # variation selectors (emoji vs text style)
        or 0x1F3FB <= code <= 0x1F3FF  # skin tones
        or 0xE0020 <= code <= 0xE007F  # tag characters (subdivision flags)
    )


class _Splitter:
    """Cuts a document's visible text into parts that fit (see the module docstring)."""

    def __init__(self, document: _Document, limit: int, max_bytes: int) -> None:
        if limit < 2:
            raise ValueError("limit must be at least 2 UTF-16 units (one surrogate pair)")
        self.doc = document
        self.text = document.text
        self.limit = limit
        self.max_bytes = max_bytes
        self.units = [0]  # units[i]: UTF-16 length of text[:i]
        for char in self.text:
            self.units.append(self.units[-1] + _units(char))
        self.bytes = [0]  # bytes[i]: UTF-8 length of raws[:i]
        for raw in document.raws:
            self.bytes.append(self.bytes[-1] + len(raw.encode("utf-8")))

    def parts(self) -> list[Part]:
        text, parts = self.text, []
        end = len(text)
        while end > 0 and text[end - 1] in _WHITESPACE:
            end -= 1
        start = self._skip_whitespace(0)
        while start < end:
            stop = end if self._fits(start, end) else self._cut(start, self._room(start, end))
            if not _is_blank(text[start:stop]):
                parts.append(Part(self._html(start, stop), text[start:stop]))
            start = self._skip_whitespace(stop)
        return parts

    def _skip_whitespace(self, index: int) -> int:
        while index < len(self.text) and self.text[index] in _WHITESPACE:
            index += 1
        return index

    def _html_bytes(self, start: int, stop: int) -> int:
        doc = self.doc
        reopen = sum(len(element.tag.encode("utf-8")) for element in doc.open_at[start])
        body = self.bytes[doc.atom_of[stop - 1] + 1] - self.bytes[doc.atom_of[start]]
        close = sum(len(element.name) + 3 for element in doc.open_at[stop - 1])
        return reopen + body + close

    def _fits(self, start: int, stop: int) -> bool:
        if self.units[stop] - self.units[start] > self.limit:
            return False
        return self._html_bytes(start, stop) <= self.max_bytes

    def _room(self, start: int, end: int) -> int:
        """The furthest stop such that every part [start, s) with s <= stop fits.

        At least one character, so that a lone oversized atom still moves on.
        """
        stop = start + 1
        while stop < end and self._fits(start, stop + 1):
            stop += 1
        return stop

    def _cut(self, start: int, room: int) -> int:
        """Where the part starting at ``start`` ends, given it may end anywhere up to ``room``."""
        if room >= len(self.text):
            return room
        half = self.units[start] + (self.units[room] - self.units[start]) / 2
        best: list[int | None] = [None, None, None]
        last_any: int | None = None
        # The text at ``room`` may itself be whitespace: a run starting there is a fine cut.
        for index in range(room, start, -1):
            if self.text[index] not in _WHITESPACE or self.text[index - 1] in _WHITESPACE:
                continue
            last_any = index if last_any is None else last_any
            kind = self._break_kind(index)
            if self.units[index] >= half and best[kind] is None:
                best[kind] = index
        for found in best:
            if found is not None:
                return found
        return last_any if last_any is not None else self._hard_cut(start, room)

    def _break_kind(self, index: int) -> int:
        newlines = 0
        while index < len(self.text) and self.text[index] in _WHITESPACE and newlines < 2:
            newlines += self.text[index] == "\n"
            index += 1
        return (_WORD, _LINE, _PARAGRAPH)[newlines]

    def _hard_cut(self, start: int, room: int) -> int:
        stop = room
        while stop - 1 > start and (
            _binds_to_previous(self.text[stop]) or self.text[stop - 1] == "\u200d"
        ):
            stop -= 1
        return stop

    def _html(self, start: int, stop: int) -> str:
        doc = self.doc
        reopen = "".join(element.tag for element in doc.open_at[start])
        body = "".join(doc.raws[doc.atom_of[start] : doc.atom_of[stop - 1] + 1])
        close = "".join(f"</{element.name}>" for element in reversed(doc.open_at[stop - 1]))
        return reopen + body + close


# --------------------------------------------------------------------------
# Public splitting API


def split(html: str, limit: int = MAX_UTF16, *, max_bytes: int = MAX_HTML_BYTES) -> list[str]:
    """Valid Telegram HTML (from :func:`render`, or built with :func:`escape`) in parts."""
    return [part.html for part in html_parts(html, limit, max_bytes=max_bytes)]


def html_parts(html: str, limit: int = MAX_UTF16, *, max_bytes: int = MAX_HTML_BYTES) -> list[Part]:
    """Like :func:`split`, with each part's visible text for a plain-text resend."""
    return _Splitter(_parse_html(html), limit, max_bytes).parts()


def render_parts(
    text: str, limit: int = MAX_UTF16, *, max_bytes: int = MAX_HTML_BYTES
) -> list[Part]:
    """The main entry: PO text rendered and split; ``[]`` when nothing is visible."""
    return _Splitter(_parse_html(render(text)), limit, max_bytes).parts()


def plain_parts(text: str, limit: int = MAX_UTF16) -> list[str]:
    """Text to send with no parse mode, cleaned and split by the same rules."""
    document = _plain_document(_clean(text))
    # No HTML, so no byte cap beyond the limit's own (UTF-8 takes at most 3 bytes per unit).
    return [part.plain for part in _Splitter(document, limit, 3 * limit).parts()]
