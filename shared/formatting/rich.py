"""PO text as a Bot API 10.1 rich message (``sendRichMessage``): real tables and headings.

Built from the same blocks as the HTML form (:func:`.markdown.blocks`), as an
``InputRichMessage`` with ``blocks`` (the shape aiogram 3.31 types, from
https://core.telegram.org/bots/api#inputrichmessage): a heading is a
``heading`` block of its size, a fenced code block a ``pre`` block with its
language, a table a bordered, striped ``table`` block whose header cells are
``is_header`` (never trimmed: Telegram lays it out), and the other lines
``paragraph`` blocks, a blank line ending one. Inline markup becomes rich
text (``bold``, ``italic``, ``code``, ``url``). No ``details`` block is made:
the Markdown subset has nothing that means one.

One rich message carries at most :data:`MAX_RICH_UTF16` units of visible
text (our assumption: the limit of a text message); a longer reply is sent in
the HTML form, split. The sender chooses between the two forms
(``RICH_MESSAGES``; ``docs/ARCHITECTURE.md``, "Formatting replies").
"""

from __future__ import annotations

import re
from typing import Any, Final

from shared.formatting.html import Open, parse_html
from shared.formatting.markdown import Code, Line, blocks, render_inline
from shared.formatting.splitting import MAX_UTF16
from shared.formatting.tables import Table

__all__ = ["MAX_RICH_UTF16", "plain_text", "rich_message", "rich_text", "text_of"]

JSON = dict[str, Any]
RichText = str | list[Any] | JSON

#: The most visible text (UTF-16 units) sent as one rich message.
MAX_RICH_UTF16: Final = MAX_UTF16

_HREF = re.compile(r'href="([^"]*)"')
_WRAPPERS: Final = {"b": "bold", "i": "italic", "code": "code"}
_UNESCAPE: Final = (("&quot;", '"'), ("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))


def rich_message(text: str) -> JSON | None:
    """PO text as an ``InputRichMessage``; None when nothing is visible or it is too long."""
    built = [block for block in _blocks(text) if block]
    shown = plain_text(built)
    if not shown.strip() or _utf16(shown) > MAX_RICH_UTF16:
        return None
    return {"blocks": built}


def _blocks(text: str) -> list[JSON]:
    out: list[JSON] = []
    paragraph: list[str] = []

    def end_paragraph() -> None:
        while paragraph and not paragraph[-1].strip():
            paragraph.pop()
        if paragraph:
            out.append({"type": "paragraph", "text": _lines_text(paragraph)})
        paragraph.clear()

    for block in blocks(text):
        if isinstance(block, Line) and not block.level:
            if block.text.strip():
                paragraph.append(block.text)
            else:
                end_paragraph()
            continue
        end_paragraph()
        if isinstance(block, Line):
            out.append({"type": "heading", "text": rich_text(block.text), "size": block.level})
        elif isinstance(block, Code):
            pre: JSON = {"type": "pre", "text": block.code}
            if block.language is not None:
                pre["language"] = block.language
            out.append(pre)
        else:
            out.append(_table(block))
    end_paragraph()
    return out


def _lines_text(lines: list[str]) -> RichText:
    pieces: list[RichText] = []
    for index, line in enumerate(lines):
        if index:
            pieces.append("\n")
        pieces.append(rich_text(line))
    return _simplify(pieces)


def _table(table: Table) -> JSON:
    def cell(text: str, align: str, header: bool) -> JSON:
        built: JSON = {"text": rich_text(text), "align": align, "valign": "top"}
        if header:
            built["is_header"] = True
        return built

    rows = [[cell(text, a, True) for text, a in zip(table.header, table.aligns, strict=True)]]
    rows += [
        [cell(text, a, False) for text, a in zip(row, table.aligns, strict=True)]
        for row in table.rows
    ]
    return {"type": "table", "cells": rows, "is_bordered": True, "is_striped": True}


def rich_text(line: str) -> RichText:
    """One line's inline markup as ``RichText``: a string, or styled runs."""
    document = parse_html(render_inline(line))
    runs: list[RichText] = []
    chars: list[str] = []
    stack: tuple[Open, ...] = ()
    for char, around in zip(document.visible, document.open_at, strict=True):
        if around != stack and chars:
            runs.append(_wrap("".join(chars), stack))
            chars.clear()
        stack = around
        chars.append(char)
    if chars:
        runs.append(_wrap("".join(chars), stack))
    return _simplify(runs)


def _wrap(text: str, stack: tuple[Open, ...]) -> RichText:
    node: RichText = text
    for element in reversed(stack):
        if element.name == "a":
            href = _HREF.search(element.tag)
            url = href.group(1) if href else ""
            for escaped, char in _UNESCAPE:
                url = url.replace(escaped, char)
            node = {"type": "url", "text": node, "url": url}
        elif element.name in _WRAPPERS:
            node = {"type": _WRAPPERS[element.name], "text": node}
    return node


def _simplify(runs: list[RichText]) -> RichText:
    if all(isinstance(run, str) for run in runs):
        return "".join(run for run in runs if isinstance(run, str))
    return runs[0] if len(runs) == 1 else runs


def plain_text(built: list[JSON]) -> str:
    """The visible text of rich blocks, one per line (a table's cells by spaces)."""
    lines: list[str] = []
    for block in built:
        if block["type"] == "table":
            for row in block["cells"]:
                lines.append(" ".join(text_of(cell.get("text", "")) for cell in row))
        else:
            lines.append(text_of(block["text"]))
    return "\n".join(lines)


def text_of(value: Any) -> str:
    """The visible text of ``RichText``."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(text_of(item) for item in value)
    if isinstance(value, dict):
        return text_of(value.get("text", ""))
    return ""


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
