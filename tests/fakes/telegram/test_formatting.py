"""Text length and parse_mode: counted in UTF-16 units after parsing, as Telegram does."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import MessageEntity

from services.fakes.telegram import FakeTelegram, utf16_len
from tests.fakes.telegram import PRIVATE


async def test_text_over_4096_utf16_units_is_rejected_as_too_long(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(PRIVATE, "a" * 4097)


async def test_4096_cyrillic_letters_fit_in_one_message(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    message = await bot.send_message(PRIVATE, "ж" * 4096)

    assert message.text == "ж" * 4096
    assert fake_telegram.chat(PRIVATE).texts == ["ж" * 4096]


async def test_2049_emoji_are_too_long_because_each_is_two_utf16_units(bot: Bot) -> None:
    text = "😀" * 2049
    assert len(text) == 2049
    assert utf16_len(text) == 4098

    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(PRIVATE, text)


async def test_length_is_counted_after_html_parsing(bot: Bot) -> None:
    message = await bot.send_message(PRIVATE, f"<b>{'x' * 4096}</b>", parse_mode="HTML")

    assert message.text == "x" * 4096


async def test_empty_text_is_rejected(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(PRIVATE, "")


async def test_text_that_is_only_whitespace_or_empty_markup_is_empty(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(PRIVATE, " \n ")
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(PRIVATE + 1, "<b> </b>", parse_mode="HTML")


async def test_entities_param_is_checked_against_utf16_length(bot: Bot) -> None:
    text = "😀 hi"  # 5 UTF-16 units
    ok = await bot.send_message(
        PRIVATE, text, entities=[MessageEntity(type="bold", offset=3, length=2)]
    )
    assert ok.entities is not None
    assert ok.entities[0].offset == 3

    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(
            PRIVATE, text, entities=[MessageEntity(type="bold", offset=3, length=3)]
        )


async def test_unknown_parse_mode_is_rejected(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="unsupported parse_mode"):
        await bot.send_message(PRIVATE, "x", parse_mode="BBCode")
