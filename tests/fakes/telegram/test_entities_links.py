"""Links in a bot's text come back as Telegram returns them: ``url`` entities Telegram finds
by itself, ``text_link`` entities from HTML, Markdown or explicit entities."""

from __future__ import annotations

import aiohttp
from aiogram import Bot

from services.fakes.telegram import FakeTelegram, format_message_text
from services.fakes.telegram.entities import found_entities
from tests.fakes.telegram import PRIVATE


def links(text: str) -> list[str]:
    return [
        text[e["offset"] : e["offset"] + e["length"]]
        for e in found_entities(text, [])
        if e["type"] == "url"
    ]


def test_a_web_address_in_plain_text_becomes_a_url_entity() -> None:
    assert links("docs at https://example.org/docs?page=2#top here") == [
        "https://example.org/docs?page=2#top"
    ]


def test_a_bare_domain_and_a_www_address_are_links_too() -> None:
    assert links("see example.com/shop or www.python.org") == [
        "example.com/shop",
        "www.python.org",
    ]


def test_trailing_punctuation_and_an_unopened_bracket_stay_outside_the_link() -> None:
    assert links("(see https://example.org/a_(b)), then https://x.dev.") == [
        "https://example.org/a_(b)",
        "https://x.dev",
    ]


def test_a_file_name_or_version_is_not_a_link() -> None:
    assert links("edit notes.md and main.py, version 1.2.3") == []


def test_offsets_count_utf16_after_an_emoji() -> None:
    text = "😀 https://example.org"
    (url,) = found_entities(text, [])
    assert (url["type"], url["offset"], url["length"]) == ("url", 3, 19)


def test_an_email_address_is_an_email_entity_not_a_link() -> None:
    (email,) = found_entities("write to ada@example.org", [])
    assert (email["type"], email["offset"], email["length"]) == ("email", 9, 15)


def test_no_link_is_found_inside_code() -> None:
    formatted = format_message_text("run <code>curl https://example.org</code>", "HTML", None)
    assert [e["type"] for e in formatted.entities] == ["code"]


def test_a_text_link_keeps_its_url_and_gets_no_url_entity_over_it() -> None:
    formatted = format_message_text('<a href="https://example.org/x">example.org</a>', "HTML", None)
    assert formatted.entities == [
        {"type": "text_link", "offset": 0, "length": 11, "url": "https://example.org/x"}
    ]


def test_a_markdown_link_is_a_text_link() -> None:
    formatted = format_message_text("[the docs](https://example.org/d)", "MarkdownV2", None)
    assert formatted.entities == [
        {"type": "text_link", "offset": 0, "length": 8, "url": "https://example.org/d"}
    ]


async def test_a_sent_message_comes_back_with_its_url_entity(bot: Bot) -> None:
    message = await bot.send_message(PRIVATE, "echo: see https://example.org")

    assert message.entities is not None
    assert [(e.type, e.offset, e.length) for e in message.entities] == [("url", 10, 19)]


async def test_a_user_s_message_through_the_control_api_comes_with_its_links(
    fake_telegram: FakeTelegram,
) -> None:
    async with aiohttp.ClientSession() as http:
        await http.post(
            f"{fake_telegram.control_url}/chats/{PRIVATE}/messages",
            json={"text": "/help see example.org"},
        )

    (message,) = fake_telegram.chat(PRIVATE).messages.values()
    assert message["entities"] == [
        {"type": "bot_command", "offset": 0, "length": 5},
        {"type": "url", "offset": 10, "length": 11},
    ]
