"""Callback queries: a pressed button is answered once."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest

from services.fakes.telegram import FakeTelegram
from tests.fakes.telegram import PRIVATE


async def test_callback_query_can_be_answered_once(bot: Bot, fake_telegram: FakeTelegram) -> None:
    await bot.send_message(PRIVATE, "press")
    query_id = fake_telegram.inject_callback_query(PRIVATE, "yes")["callback_query"]["id"]

    assert await bot.answer_callback_query(query_id, text="ok")
    with pytest.raises(TelegramBadRequest, match="query ID is invalid"):
        await bot.answer_callback_query(query_id)
    assert fake_telegram.callback_answers[0]["text"] == "ok"
