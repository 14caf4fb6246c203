"""HTML is cut between its atoms: never inside an entity, elements closed and reopened."""

from __future__ import annotations

from services.fakes.telegram import utf16_len
from shared.formatting.cleaning import escape
from shared.formatting.splitting import render_parts, split
from tests.shared.formatting.judge import assert_sendable, assert_whitespace_cuts, parsed


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


def test_split_accepts_html_built_with_escape() -> None:
    names = [f"<proj {n}> & co" for n in range(400)]
    html = "<b>Projects</b>\n" + "\n".join(f"• <code>{escape(name)}</code>" for name in names)
    pieces = split(html, limit=500)
    assert len(pieces) > 1
    for piece in pieces:
        assert utf16_len(parsed(piece).text) <= 500
    assert_whitespace_cuts(parsed(html).text, [parsed(piece).text for piece in pieces])
