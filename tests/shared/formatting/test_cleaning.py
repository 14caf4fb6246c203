"""Text is cleaned as Telegram shows it, and escaped so any name reads as written."""

from __future__ import annotations

from shared.formatting.cleaning import escape
from shared.formatting.markdown import render
from tests.shared.formatting.judge import parsed, shown


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


def test_escape_makes_any_name_safe_as_text_and_as_an_attribute() -> None:
    name = 'proj <"x"> & \x00co'
    html = f'<a href="https://example.com/?n={escape(name)}">{escape(name)}</a>'
    formatted = parsed(html)
    assert formatted.text == 'proj <"x"> & co'
    assert formatted.entities[0]["url"] == 'https://example.com/?n=proj <"x"> & co'
    assert escape("<&>", quote=False) == "&lt;&amp;&gt;"
