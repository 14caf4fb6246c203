"""Hypothesis: any PO Markdown becomes parts Telegram accepts, with no content lost.

Checked with the fake Telegram's port of tdlib's HTML parser (the judge), and
counted in UTF-16 as Telegram counts. Content: every word of prose, headings,
list items and code is shown, whole and in order; a table cell is shown whole
or as its beginning followed by "…" (tables are trimmed to fit a phone, by
design).
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from shared.formatting.markdown import render
from shared.formatting.splitting import MAX_UTF16, render_parts
from shared.formatting.tables import ELLIPSIS
from tests.shared.formatting.judge import (
    ARBITRARY,
    EMPTY,
    FAST,
    PIECES,
    WHITESPACE,
    assert_sendable,
    assert_whitespace_cuts,
    gaps,
    parsed,
)

# Words Telegram shows as written: letters of several scripts, digits, astral emoji (2 units).
WORD = st.text(
    st.sampled_from("abcxyzABC0123456789жЖёЁ漢字😀🚀é-+.,:;!?()/="), min_size=1, max_size=12
).filter(lambda word: word.strip("-+.,:;!?()/=") != "" and word[0] not in "-+" and "(" not in word)
WORDS = st.lists(WORD, min_size=1, max_size=8)


@dataclass(frozen=True)
class Block:
    markdown: str
    words: tuple[str, ...]  # shown whole, in order
    cells: tuple[str, ...] = ()  # shown whole or trimmed with "…", in order


def _paragraph(words: list[str]) -> Block:
    return Block(" ".join(words), tuple(words))


def _heading(level: int, words: list[str]) -> Block:
    return Block("#" * level + " " + " ".join(words), tuple(words))


def _nested_list(items: list[tuple[int, list[str]]]) -> Block:
    lines = [f"{'  ' * depth}- {' '.join(words)}" for depth, words in items]
    return Block("\n".join(lines), tuple(word for _, words in items for word in words))


def _code(language: str, lines: list[list[str]]) -> Block:
    body = "\n".join(" ".join(words) for words in lines)
    return Block(f"```{language}\n{body}\n```", tuple(word for words in lines for word in words))


def _table(header: list[str], rows: list[list[str]]) -> Block:
    def row(cells: list[str]) -> str:
        return "| " + " | ".join(cells) + " |"

    markdown = "\n".join([row(header), "|" + "---|" * len(header), *map(row, rows)])
    return Block(markdown, (), tuple(cell for cells in [header, *rows] for cell in cells))


BLOCKS = st.one_of(
    WORDS.map(_paragraph),
    st.builds(_heading, st.integers(1, 6), WORDS),
    st.lists(st.tuples(st.integers(0, 3), WORDS), min_size=1, max_size=6).map(_nested_list),
    st.builds(
        _code,
        st.sampled_from(["", "python", "bash", "c++"]),
        st.lists(WORDS, min_size=1, max_size=60),
    ),
    st.integers(1, 6).flatmap(
        lambda columns: st.builds(
            _table,
            st.lists(WORD, min_size=columns, max_size=columns),
            st.lists(st.lists(WORD, min_size=columns, max_size=columns), max_size=12),
        )
    ),
)
DOCUMENTS = st.lists(BLOCKS, min_size=1, max_size=12)


def _find_in_order(shown: str, blocks: list[Block]) -> None:
    pos = 0
    for block in blocks:
        for word in block.words:
            found = shown.find(word, pos)
            assert found >= 0, f"{word!r} lost (or out of order) after {pos}"
            pos = found + len(word)
        for cell in block.cells:
            candidates = [cell] + [cell[:keep] + ELLIPSIS for keep in range(len(cell))]
            hits = [(shown.find(c, pos), c) for c in candidates if shown.find(c, pos) >= 0]
            assert hits, f"cell {cell!r} lost (or out of order) after {pos}"
            found, which = min(hits)
            pos = found + len(which)


@FAST
@given(DOCUMENTS, st.sampled_from([MAX_UTF16, 1000, 300, 120]))
def test_tables_headings_lists_and_code_render_into_accepted_parts_losing_nothing(
    blocks: list[Block], limit: int
) -> None:
    text = "\n\n".join(block.markdown for block in blocks)
    parts = render_parts(text, limit)
    assert_sendable(parts, limit)
    assert_whitespace_cuts(parsed(render(text)).text, [part.plain for part in parts])
    _find_in_order("\n".join(part.plain for part in parts), blocks)


TABLEISH = st.lists(
    st.one_of(
        PIECES, st.sampled_from(["|", " | ", "|---|", "|:-:|--:|", "\n|", "-"]), st.characters()
    ),
    max_size=80,
).map("".join)


@FAST
@given(st.one_of(TABLEISH, ARBITRARY), st.integers(min_value=2, max_value=300))
def test_any_text_with_pipes_renders_into_parts_telegram_accepts(text: str, limit: int) -> None:
    parts = render_parts(text, limit)
    assert_sendable(parts, limit)
    found = gaps(parsed(render(text)).text, [part.plain for part in parts])
    assert all(not gap.strip(WHITESPACE + EMPTY) for gap in found)  # nothing visible dropped
