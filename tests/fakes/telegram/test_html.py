"""Telegram HTML: malformed markup gets Telegram's reasons, valid markup its entities."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest

from services.fakes.telegram import FakeTelegram
from tests.fakes.telegram import PRIVATE


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        ("<script>alert(1)</script>", 'Unsupported start tag "script" at byte offset 0'),
        ("line<br>break", 'Unsupported start tag "br" at byte offset 4'),
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("text</b>", "Unexpected end tag at byte offset 4"),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("ends with <", "Unclosed start tag at byte offset 10"),
        ("é <u>", 'Can\'t find end tag corresponding to start tag "u"'),
        ("ж<x>", 'Unsupported start tag "x" at byte offset 2'),
        ("a&nbsp;b", 'Unsupported HTML entity "&nbsp;" at byte offset 1'),
        ("<a>no href</a>", 'Tag "a" must have attribute "href" at byte offset 0'),
        ('<span class="red">x</span>', 'Tag "span" must have class "tg-spoiler"'),
    ],
)
async def test_malformed_html_is_rejected_with_telegrams_reason(
    bot: Bot, html: str, reason: str
) -> None:
    with pytest.raises(TelegramBadRequest) as raised:
        await bot.send_message(PRIVATE, html, parse_mode="HTML")

    assert raised.value.message.startswith("Bad Request: can't parse entities: ")
    assert reason in raised.value.message


async def test_valid_html_is_accepted_and_stored_without_markup(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    html = (
        '<b>Bold</b> <i>it</i> <a href="https://example.org/?a=1&amp;b=2">link</a> '
        "&lt;tag&gt; &amp; &quot;q&quot; &#65;&#x42; <tg-spoiler>s</tg-spoiler>\n"
        '<pre><code class="language-python">x = 1</code></pre>'
        "<blockquote expandable>quote</blockquote>"
    )

    message = await bot.send_message(PRIVATE, html, parse_mode="HTML")

    expected = 'Bold it link <tag> & "q" AB s\nx = 1quote'
    assert message.text == expected
    assert fake_telegram.chat(PRIVATE).texts == [expected]
    entities = {(e.type, e.offset, e.length) for e in message.entities or []}
    assert ("bold", 0, 4) in entities
    assert ("text_link", 8, 4) in entities
    assert ("expandable_blockquote", 35, 5) in entities
    pre = next(e for e in message.entities or [] if e.type == "pre")
    assert pre.language == "python"
    link = next(e for e in message.entities or [] if e.type == "text_link")
    assert link.url == "https://example.org/?a=1&b=2"


async def test_html_entity_offsets_are_in_utf16_units(bot: Bot) -> None:
    message = await bot.send_message(PRIVATE, "😀 <b>x</b>", parse_mode="HTML")

    assert [(e.offset, e.length) for e in message.entities or []] == [(3, 1)]
