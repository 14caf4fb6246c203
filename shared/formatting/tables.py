"""Markdown tables as aligned monospace blocks that fit a phone.

A table (a header row, a delimiter row such as ``|---|:-:|--:|`` with as many
cells, then rows holding ``|``) becomes one ``<pre>`` block: the header, a
rule, and the rows, columns padded to one width and aligned as the delimiter
row says. A row never exceeds :data:`TABLE_WIDTH` display columns when each
column may keep :data:`MIN_COLUMN` of them; the widest columns are narrowed
first, and a cell longer than its column ends in "…". Cells show their
visible text only (inline markup is applied by the caller's ``inline`` and
then flattened: code has no bold). The rules: ``docs/ARCHITECTURE.md``,
"Formatting replies".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import Final, Literal

from shared.formatting.cleaning import escape_cleaned

__all__ = [
    "MIN_COLUMN",
    "SEPARATOR",
    "TABLE_WIDTH",
    "Table",
    "layout",
    "parse_table",
    "table_lines",
    "width",
]

#: Display columns of one table row: what a code block shows on a 360 dp wide
#: phone at the default text size without wrapping.
TABLE_WIDTH: Final = 38
#: The narrowest a column is made (the "…" included), however many columns.
MIN_COLUMN: Final = 4
SEPARATOR: Final = " │ "
RULE_SEPARATOR: Final = "─┼─"
ELLIPSIS: Final = "…"

Align = Literal["left", "center", "right"]

_DELIMITER_CELL = re.compile(r"[ \t]*(?P<left>:?)-+(?P<right>:?)[ \t]*")
_SPLIT = re.compile(r"(?<!\\)\|")


class Table:
    """A parsed table: header cells, alignments and rows (all rows as long as the widest)."""

    def __init__(self, header: list[str], aligns: list[Align], rows: list[list[str]]) -> None:
        columns = max(len(header), *(len(row) for row in rows)) if rows else len(header)
        self.header = _pad(header, columns)
        self.aligns: list[Align] = aligns + ["left"] * (columns - len(aligns))
        self.rows = [_pad(row, columns) for row in rows]


def _pad(cells: list[str], columns: int) -> list[str]:
    return cells + [""] * (columns - len(cells))


def split_cells(line: str) -> list[str]:
    """A row's cells: split at unescaped ``|``, outer pipes and spaces dropped, ``\\|`` kept."""
    stripped = line.strip(" \t")
    if stripped.startswith("|"):
        stripped = stripped[1:]
    if stripped.endswith("|") and not stripped.endswith("\\|"):
        stripped = stripped[:-1]
    return [cell.strip(" \t").replace("\\|", "|") for cell in _SPLIT.split(stripped)]


def _delimiter(line: str) -> list[Align] | None:
    if "-" not in line:
        return None
    aligns: list[Align] = []
    for cell in split_cells(line):
        match = _DELIMITER_CELL.fullmatch(cell)
        if match is None:
            return None
        left, right = bool(match.group("left")), bool(match.group("right"))
        aligns.append("center" if left and right else "right" if right else "left")
    return aligns


def parse_table(lines: Sequence[str], start: int) -> tuple[Table, int] | None:
    """The table starting at ``lines[start]`` and the index after it, or None if none starts."""
    if start + 1 >= len(lines) or "|" not in lines[start]:
        return None
    header = split_cells(lines[start])
    aligns = _delimiter(lines[start + 1])
    # As in GFM: the delimiter row has as many cells as the header, and one of them has a pipe.
    if aligns is None or len(aligns) != len(header) or "|" not in lines[start] + lines[start + 1]:
        return None
    end = start + 2
    while end < len(lines) and "|" in lines[end] and lines[end].strip(" \t"):
        end += 1
    return Table(header, aligns, [split_cells(line) for line in lines[start + 2 : end]]), end


# --------------------------------------------------------------------------
# Layout


def _char_width(char: str) -> int:
    if unicodedata.combining(char) or char in "\u200b\u200c\u200d\ufe0e\ufe0f":
        return 0
    return 2 if unicodedata.east_asian_width(char) in "WF" else 1


def width(text: str) -> int:
    """Display columns of ``text`` in a monospace font (wide East Asian and emoji: 2)."""
    return sum(_char_width(char) for char in text)


def layout(natural: Sequence[int], budget: int = TABLE_WIDTH) -> list[int]:
    """Column widths: the natural ones, the widest narrowed until a row fits ``budget``."""
    room = budget - len(SEPARATOR) * (len(natural) - 1)
    if sum(natural) <= room:
        return list(natural)
    # The largest cap that fits, found by bisection; never below MIN_COLUMN.
    low, high = MIN_COLUMN, max(natural)
    while low < high:
        cap = (low + high + 1) // 2
        if sum(min(size, cap) for size in natural) <= room:
            low = cap
        else:
            high = cap - 1
    return [min(size, low) for size in natural]


def fit(text: str, size: int) -> str:
    """``text`` cut to ``size`` display columns, ending in "…" when cut."""
    if width(text) <= size:
        return text
    kept, used = [], 0
    for char in text:
        step = _char_width(char)
        if used + step > size - 1:
            break
        kept.append(char)
        used += step
    return "".join(kept) + ELLIPSIS


def _aligned(text: str, size: int, align: Align) -> str:
    gap = size - width(text)
    if align == "right":
        return " " * gap + text
    if align == "center":
        return " " * (gap // 2) + text + " " * (gap - gap // 2)
    return text + " " * gap


def table_lines(table: Table, budget: int = TABLE_WIDTH) -> list[str]:
    """The table as text lines: header, rule, rows (trailing spaces trimmed)."""
    everything = [table.header, *table.rows]
    natural = [max(1, *(width(row[col]) for row in everything)) for col in range(len(table.header))]
    sizes = layout(natural, budget)

    def line(cells: list[str], aligns: Sequence[Align]) -> str:
        columns = zip(cells, sizes, aligns, strict=True)
        shown = [_aligned(fit(cell, size), size, align) for cell, size, align in columns]
        return SEPARATOR.join(shown).rstrip(" ")

    rule = RULE_SEPARATOR.join("─" * size for size in sizes)
    rows = [line(row, table.aligns) for row in table.rows]
    return [line(table.header, table.aligns), rule, *rows]


def render_table(table: Table, inline_text: Callable[[str], str]) -> str:
    """The table as a ``<pre>`` block; ``inline_text`` gives a cell's visible text."""
    flattened = Table(
        [inline_text(cell) for cell in table.header],
        table.aligns,
        [[inline_text(cell) for cell in row] for row in table.rows],
    )
    return f"<pre>{escape_cleaned(chr(10).join(table_lines(flattened)))}</pre>"
