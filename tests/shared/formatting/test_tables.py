"""PO tables, headings, nested lists and code render as specified, and Telegram takes them."""

from __future__ import annotations

from shared.formatting.markdown import render
from shared.formatting.splitting import MAX_UTF16, render_parts
from shared.formatting.tables import ELLIPSIS, TABLE_WIDTH, layout, width
from tests.shared.formatting.judge import assert_sendable, parsed

SERVERS = """| Server | Status | CPU, % |
|--------|:------:|-------:|
| alpha | running | 12 |
| beta | stopped | 100 |"""

WIDE = (
    "| Project | Owner | Description | Updated |\n|---|---|---|---|\n"
    "| Telegram bot for the operations team | Ivan Petrov "
    "| Answers questions about servers and deploys | 2026-12-05 |\n"
    "| API | Anna | REST | today |"
)


def table_text(markdown: str) -> str:
    formatted = parsed(render(markdown))
    [pre] = [entity for entity in formatted.entities if entity["type"] == "pre"]
    return formatted.text[pre["offset"] : pre["offset"] + pre["length"]]


def test_a_table_becomes_one_monospace_block_with_aligned_columns() -> None:
    formatted = parsed(render(SERVERS))
    assert [entity["type"] for entity in formatted.entities] == ["pre"]
    assert formatted.text.split("\n") == [
        "Server │ Status  │ CPU, %",
        "───────┼─────────┼───────",
        "alpha  │ running │     12",
        "beta   │ stopped │    100",
    ]


def test_the_delimiter_row_sets_each_column_alignment() -> None:
    text = table_text("| a | b | c |\n|:--|:-:|--:|\n| x | y | z |\n| long | long | long |")
    assert text.split("\n")[2] == "x    │  y   │    z"


def test_a_wide_table_fits_the_phone_width_with_long_cells_ending_in_an_ellipsis() -> None:
    lines = table_text(WIDE).split("\n")
    assert all(width(line) <= TABLE_WIDTH for line in lines)
    assert len({line.index("│") for line in lines if "│" in line}) == 1  # columns line up
    assert ELLIPSIS in lines[2]
    assert lines[2].startswith("Telegr")
    assert lines[3].startswith("API ")
    assert "Anna" in lines[3]


def test_a_cell_that_fits_is_shown_whole_and_a_cut_one_keeps_its_beginning() -> None:
    text = table_text(WIDE)
    rows = [[cell.strip() for cell in line.split("│")] for line in text.split("\n")[2:]]
    source = [
        ["Telegram bot for the operations team", "Ivan Petrov", "Answers questions", "2026-12-05"],
        ["API", "Anna", "REST", "today"],
    ]
    for shown_row, source_row in zip(rows, source, strict=True):
        for shown, full in zip(shown_row, source_row, strict=True):
            assert shown == full or (shown.endswith(ELLIPSIS) and full.startswith(shown[:-1]))


def test_columns_are_narrowed_widest_first_and_never_below_the_minimum() -> None:
    assert layout([3, 40, 10]) == [3, 19, 10]
    assert layout([4, 5]) == [4, 5]
    assert (
        layout([50] * 12) == [4] * 12
    )  # too many columns: as narrow as allowed, wider than a phone


def test_wide_characters_count_double_so_cyrillic_and_emoji_tables_line_up() -> None:
    lines = table_text("| Имя | 😀 |\n|---|---|\n| Пётр | ок |\n| 漢字 | x |").split("\n")
    ends = {width(line.split("│")[0]) for line in lines if "│" in line}
    assert len(ends) == 1


def test_cells_show_their_text_without_markup_and_escaped_pipes_stay() -> None:
    text = table_text("| **a** | `b\\|c` | [d](https://e.com) |\n|---|---|---|\n| <x> | & | 1 |")
    assert text.split("\n")[0].split("│")[0].strip() == "a"
    assert "b|c" in text
    assert "<x>" in text


def test_rows_with_more_cells_than_the_header_keep_them() -> None:
    text = table_text("| a | b |\n|---|---|\n| 1 | 2 | 3 |")
    assert text.split("\n")[2].split("│")[2].strip() == "3"


def test_pipes_without_a_delimiter_row_stay_text() -> None:
    formatted = parsed(render("a | b\nc | d"))
    assert formatted.text == "a | b\nc | d"
    assert formatted.entities == []


def test_a_table_inside_a_code_block_stays_code() -> None:
    formatted = parsed(render("```\n| a |\n|---|\n```"))
    assert formatted.text == "| a |\n|---|"


def test_a_long_table_splits_into_parts_each_a_monospace_block() -> None:
    rows = "\n".join(f"| row {n} | value {n} |" for n in range(400))
    parts = render_parts(f"| name | value |\n|---|---|\n{rows}")
    assert len(parts) >= 2
    assert_sendable(parts, MAX_UTF16)
    assert all(part.html.startswith("<pre>") and part.html.endswith("</pre>") for part in parts)


# --------------------------------------------------------------------------
# Headings, nested lists, code blocks


def test_headings_become_bold_lines_of_their_own() -> None:
    formatted = parsed(render("# Title\ntext\n### Sub **x**"))
    assert formatted.text == "Title\ntext\nSub x"
    assert [(e["type"], e["offset"], e["length"]) for e in formatted.entities] == [
        ("bold", 0, 5),
        ("bold", 11, 5),
        ("bold", 15, 1),
    ]


def test_nested_lists_keep_their_indentation_and_inline_markup() -> None:
    formatted = parsed(render("- one\n  - two **b**\n    1. three\n- four"))
    assert formatted.text == "- one\n  - two b\n    1. three\n- four"
    assert [entity["type"] for entity in formatted.entities] == ["bold"]


def test_a_code_block_keeps_its_language_in_every_part_it_is_split_into() -> None:
    code = "\n".join(f"print({n})  # a comment" for n in range(600))
    parts = render_parts(f"```python\n{code}\n```")
    assert len(parts) >= 3
    assert_sendable(parts, MAX_UTF16)
    for part in parts:
        [entity] = parsed(part.html).entities
        assert entity["type"] == "pre"
        assert entity["language"] == "python"
