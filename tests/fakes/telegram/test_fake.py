"""The fake as a whole: it stops promptly, and a real aiogram Dispatcher runs against it."""

from __future__ import annotations

import asyncio
import time

from aiogram import Bot, Dispatcher
from aiogram.filters import CommandStart
from aiogram.types import Message as AiogramMessage

from services.fakes.telegram import FakeTelegram
from tests.fakes.telegram import PRIVATE
from tests.plugins.telegram import make_bot


async def test_stop_ends_an_inflight_long_poll_promptly() -> None:
    fake = FakeTelegram()
    await fake.start()
    bot = make_bot(fake)
    try:
        poll = asyncio.create_task(bot.get_updates(timeout=30))
        await fake.wait_for_poller()
        started = time.monotonic()

        await fake.stop()

        assert await poll == []
        assert time.monotonic() - started < 3
    finally:
        await bot.session.close()


async def test_real_aiogram_dispatcher_polls_the_fake_and_answers(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    dp = Dispatcher()

    @dp.message(CommandStart())
    async def start(message: AiogramMessage) -> None:
        await message.answer("Hello, <b>friend</b>!", parse_mode="HTML")

    polling = asyncio.create_task(
        dp.start_polling(bot, handle_signals=False, close_bot_session=False, polling_timeout=1)
    )
    try:
        fake_telegram.inject_message(PRIVATE, "/start")
        [reply] = await fake_telegram.wait_for_messages(PRIVATE, 1)
    finally:
        await dp.stop_polling()
        await polling

    assert reply["text"] == "Hello, friend!"
    assert reply["entities"] == [{"type": "bold", "offset": 7, "length": 6}]
