"""What Telegram would make of our HTML, and the text strategies the formatting tests share.

The judge is the fake Telegram's port of tdlib's HTML parser: ``parse_html``
raises the 400 "can't parse entities" Telegram would, and gives the visible
text (what the user reads) and the entities (what is bold, code, a link).
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st

from services.fakes.telegram import FormattedText, format_message_text, parse_html, utf16_len
from shared.formatting.splitting import Part

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
# Arbitrary text for the property tests

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
FAST = settings(max_examples=300, deadline=None)
