"""PO text (plain text that may hold Markdown) as Telegram HTML that always parses.

A small, predictable subset: fenced code blocks, headings as bold, tables as
aligned monospace blocks (:mod:`.tables`), and inline
code spans, ``**bold**``, ``*italic*``, ``_italic_`` and
``[text](http(s)://url)`` that never cross a line. ``<``, ``>`` and ``&`` are
always escaped, so the user reads what the PO wrote; markup that is not well
formed (``2*3*4``, ``snake_case``, ``javascript:`` links) stays literal text.
Lists (their indentation kept), quotes and rules stay text. An unclosed fence runs to the end,
so a streamed snapshot shows its code as code while it is being written.
The exact rules: ``docs/ARCHITECTURE.md``, "Formatting replies".
"""

from __future__ import annotations

import bisect
import functools
import re
from dataclasses import dataclass
from typing import Final

from shared.formatting.cleaning import clean, escape_cleaned
from shared.formatting.html import parse_html
from shared.formatting.tables import Table, parse_table, render_table

__all__ = ["Block", "Code", "Line", "blocks", "inline_text", "render", "render_inline"]

# --------------------------------------------------------------------------
# Blocks: fenced code, headings, lines

_FENCE_OPEN = re.compile(r"(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>.*)")
_LANGUAGE = re.compile(r"[A-Za-z0-9_+#.-]{1,32}")
_HEADING = re.compile(r"#{1,6}[ \t]+(?=\S)")


@dataclass(frozen=True, slots=True)
class Line:
    """A line of text (a heading when ``level``), inline markup not yet applied."""

    text: str
    level: int = 0


@dataclass(frozen=True, slots=True)
class Code:
    """A fenced code block: its text (not escaped) and its language, if it names one."""

    code: str
    language: str | None


Block = Line | Code | Table


def blocks(text: str) -> list[Block]:
    """PO text (cleaned here) as its blocks, in order: what :func:`render` renders."""
    lines = clean(text).split("\n")
    out: list[Block] = []
    i = 0
    while i < len(lines):
        fence = _opening_fence(lines[i])
        table = None if fence is not None else parse_table(lines, i)
        if table is not None:
            out.append(table[0])
            i = table[1]
            continue
        if fence is None:
            out.append(_line(lines[i]))
            i += 1
            continue
        end = _closing_fence(lines, i + 1, fence.group("fence"))
        out.append(_code(lines[i + 1 : end], fence))
        i = end + 1
    return out


def render(text: str) -> str:
    """PO text (plain text that may hold Markdown) as Telegram HTML that always parses."""
    return "\n".join(_render_block(block) for block in blocks(text))


def _render_block(block: Block) -> str:
    if isinstance(block, Table):
        return render_table(block, inline_text)
    if isinstance(block, Code):
        code = escape_cleaned(block.code)
        if block.language is None:
            return f"<pre>{code}</pre>"
        language = escape_cleaned(block.language, quote=True)
        return f'<pre><code class="language-{language}">{code}</code></pre>'
    html = render_inline(block.text)
    return f"<b>{html}</b>" if block.level else html


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


def _code(lines: list[str], fence: re.Match[str]) -> Code:
    indent = len(fence.group("indent"))
    code = "\n".join(_dedent(line, indent) for line in lines)
    info = fence.group("info").split()
    return Code(code, info[0] if info and _LANGUAGE.fullmatch(info[0]) else None)


def _dedent(line: str, indent: int) -> str:
    stripped = len(line) - len(line.lstrip(" \t"))
    return line[min(stripped, indent) :]


def inline_text(text: str) -> str:
    """The visible text of one line's inline markup (a table cell's text)."""
    return parse_html(render_inline(text)).text


def _line(line: str) -> Line:
    heading = _HEADING.match(line)
    if heading:
        return Line(line[heading.end() :], len(heading.group().rstrip(" \t")))
    return Line(line)


# --------------------------------------------------------------------------
# Inline markup within one line


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


def render_inline(line: str) -> str:
    """One line's inline markup (code, emphasis, links) as Telegram HTML."""
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
            tokens.append(escape_cleaned(line[pos:start]))
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
    return f"<code>{escape_cleaned(line[run.end() : closing.start()])}</code>", closing.end()


def _link(line: str, start: int) -> tuple[_Token, int]:
    match = _LINK.match(line, start)
    if match is None or len(match.group("url")) > _MAX_URL:
        return "[", start + 1
    href = escape_cleaned(match.group("url"), quote=True)
    return f'<a href="{href}">{render_inline(match.group("text"))}</a>', match.end()


def _bare_url(line: str, start: int) -> tuple[_Token, int]:
    """A URL outside a link is text: its ``_`` and ``*`` are not markup (Telegram links it)."""
    match = _BARE_URL.match(line, start)
    assert match is not None  # the caller saw "http(s)://" at start
    url = match.group().rstrip(_URL_TRAILERS)
    return escape_cleaned(url), start + len(url)


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
