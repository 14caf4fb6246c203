"""getUpdates: confirmation by offset, long polls, one poller per token, allowed_updates."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramConflictError

from services.fakes.telegram import FakeTelegram
from tests.fakes.telegram import PRIVATE


async def test_unconfirmed_update_is_delivered_again_and_confirmed_one_is_not(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    first = fake_telegram.inject_message(PRIVATE, "one")["update_id"]
    second = fake_telegram.inject_message(PRIVATE, "two")["update_id"]

    assert [u.update_id for u in await bot.get_updates()] == [first, second]
    assert [u.update_id for u in await bot.get_updates()] == [first, second]
    assert [u.update_id for u in await bot.get_updates(offset=first + 1)] == [second]
    assert await bot.get_updates(offset=second + 1) == []
    assert fake_telegram.pending_updates == []


async def test_injected_message_is_a_realistic_update(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.inject_message(PRIVATE, "/start now")

    [update] = await bot.get_updates()

    message = update.message
    assert message is not None
    assert message.from_user is not None
    assert message.text == "/start now"
    assert message.chat.type == "private"
    assert message.chat.id == PRIVATE
    assert message.from_user.id == PRIVATE
    assert not message.from_user.is_bot
    assert [(e.type, e.length) for e in message.entities or []] == [("bot_command", 6)]


async def test_long_poll_returns_as_soon_as_an_update_arrives(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await fake_telegram.wait_for_poller()
    started = time.monotonic()

    fake_telegram.inject_message(PRIVATE, "wake up")
    updates = await poll

    assert [u.message.text for u in updates if u.message] == ["wake up"]
    assert time.monotonic() - started < 2


async def test_long_poll_honours_its_timeout(bot: Bot) -> None:
    started = time.monotonic()

    assert await bot.get_updates(timeout=1) == []

    assert 0.9 <= time.monotonic() - started < 3


async def test_second_poller_terminates_the_first_with_409(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=30))
    await fake_telegram.wait_for_poller()

    assert await bot.get_updates(timeout=0) == []

    with pytest.raises(TelegramConflictError) as raised:
        await first
    assert raised.value.message == (
        "Conflict: terminated by other getUpdates request; "
        "make sure that only one bot instance is running"
    )


async def test_allowed_updates_filter_is_remembered_across_calls(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    await bot.send_message(PRIVATE, "pick one")
    assert await bot.get_updates(allowed_updates=["callback_query"]) == []

    fake_telegram.inject_message(PRIVATE, "ignored text")
    fake_telegram.inject_callback_query(PRIVATE, "chosen")
    updates = await bot.get_updates()  # no allowed_updates: the last setting stays

    assert [u.callback_query.data for u in updates if u.callback_query] == ["chosen"]
    assert [u.message for u in updates if u.message] == []
