"""Rendered or plain text is split into parts Telegram takes, each fitting its limit."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.fakes.telegram import utf16_len
from shared.formatting.cleaning import escape
from shared.formatting.markdown import render
from shared.formatting.splitting import (
    MAX_HTML_BYTES,
    MAX_UTF16,
    MIN_PART,
    Part,
    plain_parts,
    render_parts,
)
from tests.shared.formatting.judge import (
    ARBITRARY,
    EMPTY,
    FAST,
    WHITESPACE,
    assert_sendable,
    assert_whitespace_cuts,
    gaps,
    parsed,
    shown,
)


def long_reply() -> str:
    """A 10,000+ character PO reply: prose, markup, hostile text, code blocks."""
    sections = []
    for step in range(4):
        prose = " ".join(
            f"Sentence {n} of step {step} says a < b && c > d, with **bold {n}** and `x<{n}>`."
            for n in range(12)
        )
        code = "\n".join(f"    if x{n} < y and z > {n}:  # <tag> & more" for n in range(20))
        sections.append(f"## Step {step}\n\n{prose}\n\n```python\n{code}\n```")
    huge_code = "\n".join(f"line_{n} = '<{n}>' & {n}" for n in range(260))
    sections.append(f"And the big one:\n\n```python\n{huge_code}\n```\n\nThat is all. 😀")
    return "\n\n".join(sections)


def test_a_long_reply_with_code_blocks_splits_into_parts_that_each_render() -> None:
    text = long_reply()
    assert len(text) >= 10_000
    parts = render_parts(text)
    assert len(parts) >= 3
    assert_sendable(parts, MAX_UTF16)
    assert_whitespace_cuts(parsed(render(text)).text, [part.plain for part in parts])
    for part in parts:
        assert part.html.count("<pre>") == part.html.count("</pre>")
        assert part.html.count("<code") == part.html.count("</code>")
        assert "```" not in part.plain


def test_a_code_block_cut_by_a_split_is_reopened_as_code_in_the_next_part() -> None:
    parts = render_parts(long_reply())
    continued = [
        (before, after)
        for before, after in itertools.pairwise(parts)
        if ends_in_code(before) and parsed(after.html).entities[0]["offset"] == 0
    ]
    assert continued, "the 6,000-character code block must straddle a cut"
    before, after = continued[0]
    assert parsed(before.html).entities[-1]["language"] == "python"
    assert parsed(after.html).entities[0]["type"] == "pre"
    assert parsed(after.html).entities[0]["language"] == "python"
    assert after.html.startswith('<pre><code class="language-python">line_')


def ends_in_code(part: Part) -> bool:
    entities = parsed(part.html).entities
    if not entities or entities[-1]["type"] != "pre":
        return False
    return bool(entities[-1]["offset"] + entities[-1]["length"] == utf16_len(part.plain))


def test_an_emoji_after_4095_ascii_characters_is_not_cut_in_half() -> None:
    parts = render_parts("a" * 4095 + "😀", min_part=0)
    assert [part.plain for part in parts] == ["a" * 4095, "😀"]
    assert_sendable(parts, MAX_UTF16)


def test_an_emoji_that_exactly_fills_the_limit_stays_in_the_part() -> None:
    parts = render_parts("a" * 4094 + "😀b", min_part=0)
    assert [part.plain for part in parts] == ["a" * 4094 + "😀", "b"]


def test_4096_cyrillic_letters_fit_in_one_part() -> None:
    [part] = render_parts("ж" * 4096)
    assert utf16_len(part.plain) == 4096


def test_4097_cyrillic_letters_take_two_parts_the_second_not_a_scrap() -> None:
    parts = render_parts("ж" * 4097)
    assert [len(part.plain) for part in parts] == [4097 - MIN_PART, MIN_PART]
    assert_sendable(parts, MAX_UTF16)


def test_a_word_longer_than_the_limit_is_cut_hard_at_the_limit() -> None:
    parts = render_parts("x" * 10_000 + " tail")
    assert [part.plain for part in parts] == ["x" * 4096, "x" * 4096, "x" * 1808 + " tail"]


def test_a_text_just_over_the_limit_does_not_end_in_a_scrap_part() -> None:
    text = "word " * 819 + "tail12"  # 4,101 characters: a cut at the last space leaves 6
    parts = render_parts(text)
    assert len(parts) == 2
    assert all(utf16_len(part.plain) >= MIN_PART for part in parts)
    assert_whitespace_cuts(text, [part.plain for part in parts])


def test_a_scrap_part_is_allowed_when_nothing_else_fits() -> None:
    parts = render_parts("x" * 4096 + " tail", min_part=20)
    assert [part.plain for part in parts] == ["x" * 4096, "tail"]


def test_a_short_word_before_a_long_one_is_not_left_as_a_part_of_its_own() -> None:
    parts = render_parts("short " + "x" * 10_000 + " tail")
    assert [part.plain for part in parts] == [
        "short " + "x" * 4090,
        "x" * 4096,
        "x" * 1814 + " tail",
    ]


def test_a_hard_cut_does_not_separate_an_emoji_from_its_joiners() -> None:
    family = "👨\u200d👩\u200d👧"  # 8 UTF-16 units
    parts = plain_parts("a" * 5 + family, limit=9)
    assert parts == ["a" * 5, family]


def test_cuts_prefer_paragraphs_then_lines_then_words() -> None:
    # Each text fits 22 units only with a cut; each kind of break is in the second half.
    paragraph = "aaaa bbbb cc\n\ndddd\neeee ffff"
    assert plain_parts(paragraph, limit=22) == ["aaaa bbbb cc", "dddd\neeee ffff"]
    line = "aaaa bbbb cccc\ndddd eeee ffff"
    assert plain_parts(line, limit=22) == ["aaaa bbbb cccc", "dddd eeee ffff"]
    word = "aaaa bbbb cccc dddd eeee"
    assert plain_parts(word, limit=22) == ["aaaa bbbb cccc dddd", "eeee"]


def test_a_paragraph_break_early_in_a_part_loses_to_a_later_line_break() -> None:
    # A cut at the paragraph would leave a 2-character part: the later line break wins.
    text = "aa\n\nbbbb bbbb\ncccc cccc dddd"
    assert plain_parts(text, limit=20) == ["aa\n\nbbbb bbbb", "cccc cccc dddd"]


def test_the_whole_whitespace_run_at_a_cut_is_dropped() -> None:
    parts = render_parts("first part  \n \n\t  second", limit=12)
    assert [part.plain for part in parts] == ["first part", "second"]


def test_leading_and_trailing_whitespace_is_dropped_as_telegram_trims_it() -> None:
    assert [p.plain for p in render_parts("\n\n  hello  \n")] == ["hello"]


def test_text_with_nothing_visible_gives_no_parts() -> None:
    for text in ("", "  \n\t ", "\u200b\u200d\u00a0", "\x00\x1b[0m"):
        assert render_parts(text) == []
        assert plain_parts(text) == []
    assert render_parts("```\n```") == []  # an empty code block


def test_link_heavy_text_keeps_each_parts_html_under_the_byte_cap() -> None:
    url = "https://example.com/" + "p" * 1500
    parts = render_parts(" ".join(f"[{n}]({url})" for n in range(200)))
    assert len(parts) > 1
    assert_sendable(parts, MAX_UTF16)
    assert all(len(part.html.encode()) <= MAX_HTML_BYTES for part in parts)
    assert " ".join(part.plain for part in parts) == " ".join(str(n) for n in range(200))


def test_plain_parts_split_the_same_way_without_escaping() -> None:
    text = "a < b && **c**\n\n" + "слово " * 1000
    parts = plain_parts(text)
    assert parts[0].startswith("a < b && **c**")
    assert all(utf16_len(part) <= MAX_UTF16 for part in parts)
    assert_whitespace_cuts(text, parts)


def test_a_limit_below_one_surrogate_pair_is_refused() -> None:
    with pytest.raises(ValueError, match="limit"):
        render_parts("x", limit=1)


# --------------------------------------------------------------------------
# Properties over arbitrary text


def whitespace_cut_after(text: str, units: int) -> bool:
    """Whether a whitespace run starts in ``text`` after at least ``units`` UTF-16 units."""
    return any(
        char in WHITESPACE
        and text[index - 1] not in WHITESPACE
        and utf16_len(text[:index]) >= units
        for index, char in enumerate(text)
        if index
    )


@FAST
@given(ARBITRARY, st.integers(min_value=2, max_value=40))
def test_any_text_splits_into_parts_that_render_fit_and_cover_it(text: str, limit: int) -> None:
    parts = render_parts(text, limit)
    assert_sendable(parts, limit)
    pieces = [part.plain for part in parts]
    found = gaps(parsed(render(text)).text, pieces)
    assert all(not gap.strip(WHITESPACE + EMPTY) for gap in found)
    for before, gap in zip(pieces[:-1], found[1:-1], strict=True):
        if not gap:  # a hard cut: no whitespace to cut at leaving a part of min_part or more
            assert not whitespace_cut_after(before, limit // 4)


@FAST
@given(ARBITRARY)
def test_any_text_under_the_limit_is_one_part_showing_all_of_it(text: str) -> None:
    parts = render_parts(text)
    visible = shown(render(text))
    assert [part.plain for part in parts] == (
        [visible] if visible.strip(WHITESPACE + EMPTY) else []
    )


@FAST
@given(ARBITRARY, st.integers(min_value=2, max_value=40))
def test_any_text_splits_as_plain_parts_that_fit_and_cover_it(text: str, limit: int) -> None:
    parts = plain_parts(text, limit)
    assert all(0 < utf16_len(part) <= limit for part in parts)
    assert all(part == part.strip(WHITESPACE) for part in parts)
    cleaned = parsed(escape(text, quote=False)).text
    assert all(not gap.strip(WHITESPACE + EMPTY) for gap in gaps(cleaned, parts))
