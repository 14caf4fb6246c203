"""PO text becomes Telegram HTML that always renders, split to Telegram's limit.

The judge is the fake Telegram's port of tdlib's HTML parser: ``parse_html``
raises the 400 "can't parse entities" Telegram would, and gives the visible
text (what the user reads) and the entities (what is bold, code, a link).
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.fakes.telegram import FormattedText, format_message_text, parse_html, utf16_len
from shared.formatting import (
    MAX_HTML_BYTES,
    MAX_UTF16,
    Part,
    escape,
    plain_parts,
    render,
    render_parts,
    split,
)

# What Telegram trims from a message (and so what a cut may drop).
WHITESPACE = " \t\n\r\x0b\x0c"
# What tdlib calls empty: a part made only of these and whitespace is dropped.
EMPTY = (
    "\u00a0\u1680\u180e\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u200b\u200c\u200d\u200e\u200f\u202e\u202f\u205f\u2800\u3000\ufeff\ufffc"
    + "".join(map(chr, range(0xE0000, 0xE0080)))  # tag characters
)


def shown(html: str) -> str:
    """What the user reads: the text after parsing and Telegram's trim (raises on a 400)."""
    return format_message_text(html, "HTML", None).text


def parsed(html: str) -> FormattedText:
    return parse_html(html, strict=True)


def entity_types(html: str) -> list[str]:
    return [entity["type"] for entity in parsed(html).entities]


def gaps(visible: str, pieces: list[str]) -> list[str]:
    """The text around the pieces, asserting they appear in ``visible`` in order."""
    found_gaps, pos = [], 0
    for piece in pieces:
        found = visible.find(piece, pos)
        assert found >= 0, f"{piece[:40]!r} is not in the visible text after {pos}"
        found_gaps.append(visible[pos:found])
        pos = found + len(piece)
    found_gaps.append(visible[pos:])
    return found_gaps


def assert_sendable(parts: list[Part], limit: int) -> None:
    """Every part renders alone, shows exactly its ``plain``, and fits."""
    for part in parts:
        formatted = parsed(part.html)
        assert formatted.text == part.plain
        assert shown(part.html) == part.plain  # no whitespace left for Telegram to trim
        assert 0 < utf16_len(part.plain) <= limit
        assert part.plain.strip(WHITESPACE + EMPTY)


def assert_whitespace_cuts(visible: str, pieces: list[str]) -> None:
    """The pieces are ``visible`` in order, cut only at whitespace runs, which are dropped."""
    found = gaps(visible, pieces)
    assert found[0] == visible[: len(visible) - len(visible.lstrip(WHITESPACE))]
    assert found[-1] == visible[len(visible.rstrip(WHITESPACE)) :]
    for gap in found[1:-1]:
        assert gap
        assert not gap.strip(WHITESPACE)


# --------------------------------------------------------------------------
# Hostile text is delivered as written


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        "a < b && c > d",
        "&amp; is how you write an ampersand",
        "<b>x & y",
        "&nbsp; &lt; &#60; &#x3C; &unknown;",
        '<a href="javascript:alert(1)">click</a>',
        "</b></pre>",
        "1 < 2 > 0 & <",
    ],
)
def test_html_looking_text_reads_exactly_as_written(text: str) -> None:
    assert shown(render(text)) == text
    [part] = render_parts(text)
    assert part.plain == text
    assert entity_types(part.html) == []


def test_a_script_tag_reads_as_written() -> None:
    assert render("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.mark.parametrize(
    "text",
    [
        "*a",
        "a*",
        "**a",
        "a**",
        "**bold*",
        "*italic**",
        "_a",
        "a_",
        "*",
        "_",
        "**",
        "2*3*4",
        "2 * 3 * 4",
        "snake_case_names",
        "__init__ and __main__",
        "def f(*args, **kwargs)",
        "* a list item\n* another",
        "*.py and *.txt",
        "** not bold **",
        "****",
        "`unclosed code",
        "[text](javascript:alert(1))",
        "[text](ftp://example.com)",
        "[text](https://example.com with space)",
        "[](https://example.com)",
        "[text] (https://example.com)",
        "#hashtag",
        "####### seven hashes",
    ],
)
def test_markdown_that_is_not_well_formed_stays_literal(text: str) -> None:
    html = render(text)
    assert shown(html) == text
    assert entity_types(html) == []


def test_control_characters_are_dropped_and_line_endings_become_newlines() -> None:
    text = "a\x00b\x07c\x1b[31mred\x1b[0m\r\nline\rmac\x7f\x85end\tTab"
    assert shown(render(text)) == "abcred\nline\nmacend\tTab"


def test_characters_telegram_deletes_are_deleted_first() -> None:
    # Bidi overrides and separators U+2028..U+202E, and three combining marks.
    text = "ab\u202ecd\u2028ef\u0333g"
    assert shown(render(text)) == "abcdefg"


def test_a_lone_surrogate_becomes_a_replacement_character() -> None:
    assert shown(render("a\ud800b")) == "a\ufffdb"
    # A well-formed pair given as two halves is joined into the one character it encodes.
    assert shown(render("\ud83d\ude00")) == "😀"


def test_emoji_zero_width_rtl_and_cyrillic_are_kept_as_written() -> None:
    text = "Привет 👨‍👩‍👧 zero\u200bwidth \u200fשלום\u200e 🇺🇦 é"
    assert shown(render(text)) == text


# --------------------------------------------------------------------------
# Markdown is kept where well formed


def test_bold_italic_code_and_link_become_formatting() -> None:
    text = "**bold** *italic* _also_ ***both*** `a < b` [docs](https://example.com/a?b=1&c=2)"
    formatted = parsed(render(text))
    assert formatted.text == "bold italic also both a < b docs"
    assert sorted((e["type"], e["offset"], e["length"]) for e in formatted.entities) == [
        ("bold", 0, 4),
        ("bold", 17, 4),
        ("code", 22, 5),
        ("italic", 5, 6),
        ("italic", 12, 4),
        ("italic", 17, 4),
        ("text_link", 28, 4),
    ]
    assert formatted.entities[-1]["url"] == "https://example.com/a?b=1&c=2"


def test_emphasis_nests_and_wraps_code() -> None:
    formatted = parsed(render("**bold with *italic* and `code`** after"))
    assert formatted.text == "bold with italic and code after"
    assert [e["type"] for e in formatted.entities] == ["bold", "italic", "code"]


def test_markup_inside_inline_code_is_left_alone() -> None:
    formatted = parsed(render("`**not bold** <b> &amp;` and ``a ` b``"))
    assert formatted.text == "**not bold** <b> &amp; and a ` b"
    assert [e["type"] for e in formatted.entities] == ["code", "code"]


def test_a_link_keeps_balanced_parentheses_and_escapes_quotes() -> None:
    url = 'https://en.wikipedia.org/wiki/Foo_(bar)?q="x"'
    formatted = parsed(render(f"see [Foo]({url})."))
    assert formatted.text == "see Foo."
    assert formatted.entities[0]["url"] == url


def test_a_bare_url_keeps_its_underscores_and_stars() -> None:
    before = "see https://x.com/_next/_app_ and HTTP://e.com/a*b*c, "
    formatted = parsed(render(before + "**https://e.com/b_**."))
    assert formatted.text == before + "https://e.com/b_."
    assert formatted.entities == [{"type": "bold", "offset": len(before), "length": 16}]


def test_a_fenced_block_becomes_pre_with_its_language_and_no_markdown_inside() -> None:
    text = "Before:\n```python\nif a < b and **c**:\n    print('<ok>')\n```\nAfter."
    formatted = parsed(render(text))
    assert formatted.text == "Before:\nif a < b and **c**:\n    print('<ok>')\nAfter."
    code = "if a < b and **c**:\n    print('<ok>')"
    assert formatted.entities == [
        {"type": "pre", "offset": 8, "length": len(code), "language": "python"}
    ]


def test_a_fence_without_a_language_is_plain_pre_and_tildes_work_too() -> None:
    assert parsed(render("```\nx\n```")).entities == [{"type": "pre", "offset": 0, "length": 1}]
    assert entity_types(render("~~~\nx\n~~~")) == ["pre"]
    # An info string that is not a plain language name gives no language.
    assert parsed(render('```"><script>\nx\n```')).entities[0] == {
        "type": "pre",
        "offset": 0,
        "length": 1,
    }


def test_an_indented_fence_inside_a_list_loses_its_indentation_in_the_code() -> None:
    text = "1. Run:\n   ```bash\n   make test\n     indented\n   ```\n2. Done"
    formatted = parsed(render(text))
    assert formatted.text == "1. Run:\nmake test\n  indented\n2. Done"
    assert entity_types(render(text)) == ["pre"]


def test_an_unclosed_fence_is_code_until_the_end() -> None:
    formatted = parsed(render("Look:\n```js\nlet a = 1 < 2;\n**still code**"))
    assert formatted.text == "Look:\nlet a = 1 < 2;\n**still code**"
    assert formatted.entities == [{"type": "pre", "offset": 6, "length": 29, "language": "js"}]


def test_a_heading_becomes_bold_and_a_list_stays_text() -> None:
    formatted = parsed(render("## Plan\n- one\n- **two**\n> quoted"))
    assert formatted.text == "Plan\n- one\n- two\n> quoted"
    assert [e["type"] for e in formatted.entities] == ["bold", "bold"]


def test_escape_makes_any_name_safe_as_text_and_as_an_attribute() -> None:
    name = 'proj <"x"> & \x00co'
    html = f'<a href="https://example.com/?n={escape(name)}">{escape(name)}</a>'
    formatted = parsed(html)
    assert formatted.text == 'proj <"x"> & co'
    assert formatted.entities[0]["url"] == 'https://example.com/?n=proj <"x"> & co'
    assert escape("<&>", quote=False) == "&lt;&amp;&gt;"


# --------------------------------------------------------------------------
# Splitting


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
    parts = render_parts("a" * 4095 + "😀")
    assert [part.plain for part in parts] == ["a" * 4095, "😀"]
    assert_sendable(parts, MAX_UTF16)


def test_an_emoji_that_exactly_fills_the_limit_stays_in_the_part() -> None:
    parts = render_parts("a" * 4094 + "😀b")
    assert [part.plain for part in parts] == ["a" * 4094 + "😀", "b"]


def test_4096_cyrillic_letters_fit_in_one_part() -> None:
    [part] = render_parts("ж" * 4096)
    assert utf16_len(part.plain) == 4096


def test_4097_cyrillic_letters_take_two_parts() -> None:
    parts = render_parts("ж" * 4097)
    assert [len(part.plain) for part in parts] == [4096, 1]
    assert_sendable(parts, MAX_UTF16)


def test_a_word_longer_than_the_limit_is_cut_hard_at_the_limit() -> None:
    parts = render_parts("short " + "x" * 10_000 + " tail")
    assert [part.plain for part in parts] == ["short", "x" * 4096, "x" * 4096, "x" * 1808 + " tail"]


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


def test_an_entity_is_never_cut() -> None:
    parts = render_parts("&<>" * 3000, limit=100)
    assert_sendable(parts, 100)
    assert "".join(part.plain for part in parts) == "&<>" * 3000


def test_formatting_cut_by_a_split_is_closed_and_reopened() -> None:
    parts = render_parts("**one two three four** [five six seven](https://example.com/x)", limit=10)
    assert [part.html for part in parts] == [
        "<b>one two</b>",
        "<b>three four</b>",
        '<a href="https://example.com/x">five six</a>',
        '<a href="https://example.com/x">seven</a>',
    ]


def test_link_heavy_text_keeps_each_parts_html_under_the_byte_cap() -> None:
    url = "https://example.com/" + "p" * 1500
    parts = render_parts(" ".join(f"[{n}]({url})" for n in range(200)))
    assert len(parts) > 1
    assert_sendable(parts, MAX_UTF16)
    assert all(len(part.html.encode()) <= MAX_HTML_BYTES for part in parts)
    assert " ".join(part.plain for part in parts) == " ".join(str(n) for n in range(200))


def test_split_accepts_html_built_with_escape() -> None:
    names = [f"<proj {n}> & co" for n in range(400)]
    html = "<b>Projects</b>\n" + "\n".join(f"• <code>{escape(name)}</code>" for name in names)
    pieces = split(html, limit=500)
    assert len(pieces) > 1
    for piece in pieces:
        assert utf16_len(parsed(piece).text) <= 500
    assert_whitespace_cuts(parsed(html).text, [parsed(piece).text for piece in pieces])


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

PIECES = st.sampled_from(
    [
        "*", "**", "***", "_", "__", "`", "```", "```py\n", "\n```\n", "~~~", "[", "]", "(",
        ")", "](https://e.com/x)", "[t](https://e.com/(a))", "# ", "\n", "\n\n", " ", "  ",
        "\t", "<", ">", "&", '"', "&amp;", "&lt;", "<b>", "</b>", "<pre>", "😀", "👨\u200d👩",
        "\ufe0f", "я", "Привет", "\u200b", "\u200f", "\u202e", "\u2028", "\x00", "\x1b[1m",
        "\r\n", "\r", "\x0b", "\ud83d", "\ude00", "a", "word", "x_y", "https://a_b*c",
    ]
)  # fmt: skip
ARBITRARY = st.lists(st.one_of(PIECES, st.characters()), max_size=80).map("".join)
PLAIN = st.text(st.characters(exclude_characters="*_`[#~"), max_size=80)
FAST = settings(max_examples=300, deadline=None)


@FAST
@given(ARBITRARY)
def test_any_text_renders_without_inventing_or_reordering_characters(text: str) -> None:
    visible = parsed(render(text)).text
    cleaned = iter(parsed(escape(text, quote=False)).text)
    assert all(char in cleaned for char in visible)  # a subsequence


@FAST
@given(PLAIN)
def test_text_without_markup_characters_renders_as_itself(text: str) -> None:
    assert parsed(render(text)).text == parsed(escape(text)).text


@FAST
@given(ARBITRARY, st.integers(min_value=2, max_value=40))
def test_any_text_splits_into_parts_that_render_fit_and_cover_it(text: str, limit: int) -> None:
    parts = render_parts(text, limit)
    assert_sendable(parts, limit)
    pieces = [part.plain for part in parts]
    found = gaps(parsed(render(text)).text, pieces)
    assert all(not gap.strip(WHITESPACE + EMPTY) for gap in found)
    for before, gap in zip(pieces[:-1], found[1:-1], strict=True):
        if not gap:  # a hard cut: there was no whitespace to cut at
            assert not any(char in WHITESPACE for char in before)


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
