"""Flood limits on a hand-moved clock: Telegram's budgets, its 429s and their penalty."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter

from services.fakes.telegram import FakeTelegram, FloodLimits, ManualClock
from tests.fakes.telegram import GROUP, PRIVATE


async def test_private_chat_burst_over_three_messages_gets_429(
    bot: Bot, fake_telegram: FakeTelegram, telegram_clock: ManualClock
) -> None:
    for n in range(3):
        await bot.send_message(PRIVATE, f"burst {n}")

    with pytest.raises(TelegramRetryAfter) as raised:
        await bot.send_message(PRIVATE, "one too many")

    assert raised.value.retry_after == 1
    [throttled] = fake_telegram.throttled
    assert throttled.body == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }
    assert len(fake_telegram.chat(PRIVATE).sent) == 3


async def test_one_message_per_second_is_sustainable_in_a_private_chat(
    bot: Bot, telegram_clock: ManualClock
) -> None:
    for n in range(10):
        await bot.send_message(PRIVATE, f"steady {n}")
        telegram_clock.advance(1.0)


async def test_group_chat_over_20_messages_per_minute_gets_429(
    bot: Bot, fake_telegram: FakeTelegram, telegram_clock: ManualClock
) -> None:
    # Lift the per-chat bucket so only the group window can refuse.
    fake_telegram.set_flood_limits(FloodLimits(chat_rate=None))
    for n in range(20):
        await bot.send_message(GROUP, f"group {n}")
        telegram_clock.advance(0.5)

    with pytest.raises(TelegramRetryAfter) as raised:
        await bot.send_message(GROUP, "21st")

    assert raised.value.retry_after == 50  # the first one leaves the 60 s window then
    telegram_clock.advance(50)
    await bot.send_message(GROUP, "allowed again")


async def test_global_limit_over_30_messages_per_second_across_many_chats_gets_429(
    bot: Bot, fake_telegram: FakeTelegram, telegram_clock: ManualClock
) -> None:
    for chat_id in range(1, 31):
        await bot.send_message(chat_id, "broadcast")

    with pytest.raises(TelegramRetryAfter) as raised:
        await bot.send_message(31, "broadcast")

    assert raised.value.retry_after == 1
    assert fake_telegram.chat(31).sent == []


async def test_429_penalty_continues_until_retry_after_has_passed(
    bot: Bot, fake_telegram: FakeTelegram, telegram_clock: ManualClock
) -> None:
    # 2 msg/s with no burst: after 0.5 s the bucket alone would allow the next send.
    fake_telegram.set_flood_limits(FloodLimits(chat_rate=2.0, chat_burst=1))
    await bot.send_message(PRIVATE, "first")
    with pytest.raises(TelegramRetryAfter) as first:
        await bot.send_message(PRIVATE, "too soon")
    assert first.value.retry_after == 1

    telegram_clock.advance(0.5)  # the bucket has refilled, the penalty has not run out
    with pytest.raises(TelegramRetryAfter) as second:
        await bot.send_message(PRIVATE, "still penalised")
    assert second.value.retry_after == 1

    telegram_clock.advance(0.5)
    await bot.send_message(PRIVATE, "after retry_after")
    assert len(fake_telegram.throttled) == 2


async def test_editing_counts_against_the_chat_budget(
    bot: Bot, telegram_clock: ManualClock
) -> None:
    message = await bot.send_message(PRIVATE, "v0")
    await bot.edit_message_text("v1", chat_id=PRIVATE, message_id=message.message_id)
    await bot.edit_message_text("v2", chat_id=PRIVATE, message_id=message.message_id)

    with pytest.raises(TelegramRetryAfter):
        await bot.edit_message_text("v3", chat_id=PRIVATE, message_id=message.message_id)


async def test_flood_limits_can_be_lifted(bot: Bot, fake_telegram: FakeTelegram) -> None:
    fake_telegram.lift_flood_limits()

    for n in range(40):
        await bot.send_message(PRIVATE, f"unlimited {n}")

    assert fake_telegram.throttled == []
