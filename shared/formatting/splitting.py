"""Telegram HTML or plain text cut into parts that Telegram takes as messages.

Each part fits Telegram's limit on visible text (UTF-16 units, counted after
entity parsing) and our cap on its HTML bytes, renders on its own (elements
open at a cut are closed and reopened) and shows something (Telegram rejects
an empty message and trims whitespace, so cuts go at whitespace, which is
dropped). Cuts prefer a paragraph break, then a line break, then a space;
a word longer than a part is cut hard, never inside a tag, an entity, a
surrogate pair or a grapheme joined by ZWJ or a combining mark. No part is
left under ``MIN_PART`` units when a cut elsewhere avoids it without
cutting a word. The exact
rules, and what the parts add up to: ``docs/ARCHITECTURE.md``, "Formatting
replies".

The sending component calls :func:`render_parts` for a PO reply (or
:func:`plain_parts` to send without a parse mode) and sends the parts in order.
"""

from __future__ import annotations

import unicodedata
from typing import Final

import msgspec

from shared.formatting.cleaning import clean
from shared.formatting.html import Document, parse_html, plain_document
from shared.formatting.markdown import render

__all__ = [
    "MAX_HTML_BYTES",
    "MAX_UTF16",
    "MIN_PART",
    "Part",
    "html_parts",
    "plain_parts",
    "render_parts",
    "split",
]

#: Telegram's limit on a message's text after entity parsing, in UTF-16 units.
MAX_UTF16: Final = 4096
#: Our own cap on one part's HTML (UTF-8 bytes). Ordinary text stays far
#: below it (4,096 escaped ``&`` take 20,480 bytes); many long links do not.
MAX_HTML_BYTES: Final = 32_768
#: The shortest part (UTF-16 units) a cut leaves when the text allows a longer one.
MIN_PART: Final = 20


class Part(msgspec.Struct, frozen=True):
    """One message: its HTML, and the same part's visible text for a plain resend."""

    html: str
    plain: str


# --------------------------------------------------------------------------
# Choosing the cuts

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
    """Cuts a document's visible text into parts that fit (rules: the module docstring)."""

    def __init__(
        self, document: Document, limit: int, max_bytes: int, min_part: int = MIN_PART
    ) -> None:
        if limit < 2:
            raise ValueError("limit must be at least 2 UTF-16 units (one surrogate pair)")
        self.doc = document
        self.text = document.text
        self.limit = limit
        self.max_bytes = max_bytes
        # A tiny limit (tests) cannot promise 20: at most a quarter of a part.
        self.min_part = min(min_part, limit // 4)
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
            stop = self._part_end(start, end)
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

    def _part_end(self, start: int, end: int) -> int:
        """Where the part starting at ``start`` ends (the text's visible part ends at ``end``)."""
        if self._fits(start, end):
            return end
        room = self._room(start, end)
        stop = self._cut(start, room)
        if not self._scrap_after(stop, end):
            return stop
        # Leave the last part min_part units, unless this part would be under half its
        # room, or a word would be cut where a space was near.
        floor = self.units[start] + (self.units[room] - self.units[start]) // 2
        shorter = room
        while shorter > start + 1 and self.units[end] - self.units[shorter] < self.min_part:
            shorter -= 1
        if self.units[shorter] < floor:
            return stop
        other = self._cut(start, shorter)
        at_space = stop < len(self.text) and self.text[stop] in _WHITESPACE
        if at_space and self.text[other] not in _WHITESPACE:
            return stop
        return other

    def _scrap_after(self, stop: int, end: int) -> bool:
        rest = self.units[end] - self.units[self._skip_whitespace(stop)]
        return 0 < rest < self.min_part

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
        # A space far back is still better than a cut word, unless it leaves a scrap.
        if last_any is not None and self.units[last_any] - self.units[start] >= self.min_part:
            return last_any
        return self._hard_cut(start, room)

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
# The entry points


def split(
    html: str,
    limit: int = MAX_UTF16,
    *,
    max_bytes: int = MAX_HTML_BYTES,
    min_part: int = MIN_PART,
) -> list[str]:
    """Valid Telegram HTML (from :func:`render`, or built with :func:`escape`) in parts."""
    return [part.html for part in html_parts(html, limit, max_bytes=max_bytes, min_part=min_part)]


def html_parts(
    html: str,
    limit: int = MAX_UTF16,
    *,
    max_bytes: int = MAX_HTML_BYTES,
    min_part: int = MIN_PART,
) -> list[Part]:
    """Like :func:`split`, with each part's visible text for a plain-text resend."""
    return _Splitter(parse_html(html), limit, max_bytes, min_part).parts()


def render_parts(
    text: str,
    limit: int = MAX_UTF16,
    *,
    max_bytes: int = MAX_HTML_BYTES,
    min_part: int = MIN_PART,
) -> list[Part]:
    """The main entry: PO text rendered and split; ``[]`` when nothing is visible."""
    return _Splitter(parse_html(render(text)), limit, max_bytes, min_part).parts()


def plain_parts(text: str, limit: int = MAX_UTF16, *, min_part: int = MIN_PART) -> list[str]:
    """Text to send with no parse mode, cleaned and split by the same rules."""
    document = plain_document(clean(text))
    # No HTML, so no byte cap beyond the limit's own (UTF-8 takes at most 3 bytes per unit).
    return [part.plain for part in _Splitter(document, limit, 3 * limit, min_part).parts()]
