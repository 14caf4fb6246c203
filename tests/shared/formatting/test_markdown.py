"""PO text becomes Telegram HTML that renders: hostile text as written, Markdown kept."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.formatting.cleaning import escape
from shared.formatting.markdown import render
from shared.formatting.splitting import render_parts
from tests.shared.formatting.judge import ARBITRARY, FAST, entity_types, parsed, shown

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


# --------------------------------------------------------------------------
# Properties over arbitrary text

PLAIN = st.text(st.characters(exclude_characters="*_`[#~|"), max_size=80)
NO_TABLES = ARBITRARY.filter(lambda text: "|" not in text)  # tables add padding and rules


@FAST
@given(NO_TABLES)
def test_text_without_tables_renders_without_inventing_or_reordering_characters(text: str) -> None:
    visible = parsed(render(text)).text
    cleaned = iter(parsed(escape(text, quote=False)).text)
    assert all(char in cleaned for char in visible)  # a subsequence


@FAST
@given(PLAIN)
def test_text_without_markup_characters_renders_as_itself(text: str) -> None:
    assert parsed(render(text)).text == parsed(escape(text)).text
