"""sendMessageDraft with can_stop: the stop button, and the stopped_message_generation update."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiogram.types import Update

from services.fakes.telegram import FakeTelegram, ManualClock
from tests.fakes.telegram import PRIVATE
from tests.fakes.telegram.test_webhook import webhook_receiver


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def press_stop(
    http: aiohttp.ClientSession, fake: FakeTelegram, draft_id: int, chat_id: int = PRIVATE
) -> tuple[int, Any]:
    """The user presses the draft's stop button; the control API's status and body."""
    url = f"{fake.control_url}/chats/{chat_id}/drafts/{draft_id}/stop"
    async with http.post(url) as response:
        return response.status, await response.json()


async def test_the_stop_button_sends_a_stopped_message_generation_update(
    bot: Bot, fake_telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    await bot.send_message_draft(PRIVATE, draft_id=7, text="Думаю…", can_stop=True)

    status, _ = await press_stop(http, fake_telegram, 7)

    assert status == 200
    [update] = await bot.get_updates()
    stopped = update.stopped_message_generation
    assert stopped is not None
    assert (stopped.chat.id, stopped.draft_id) == (PRIVATE, 7)


async def test_a_stopped_draft_disappears_from_the_chat(
    bot: Bot, fake_telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    await bot.send_message_draft(PRIVATE, draft_id=7, text="Думаю…", can_stop=True)

    await press_stop(http, fake_telegram, 7)

    assert fake_telegram.chat(PRIVATE).drafts == {}


async def test_a_draft_sent_with_keep_on_stop_stays_once_stopped(
    bot: Bot, fake_telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    await bot.send_message_draft(
        PRIVATE, draft_id=7, text="Думаю…", can_stop=True, keep_on_stop=True
    )

    await press_stop(http, fake_telegram, 7)

    draft = fake_telegram.chat(PRIVATE).drafts[7]
    assert (draft.text, draft.stopped) == ("Думаю…", True)


async def test_a_draft_without_can_stop_cannot_be_stopped(
    bot: Bot, fake_telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    await bot.send_message_draft(PRIVATE, draft_id=7, text="no button")

    status, _ = await press_stop(http, fake_telegram, 7)

    assert status == 400
    assert fake_telegram.pending_updates == []


async def test_a_draft_can_be_stopped_only_once(
    bot: Bot, fake_telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    await bot.send_message_draft(
        PRIVATE, draft_id=7, text="Думаю…", can_stop=True, keep_on_stop=True
    )
    await press_stop(http, fake_telegram, 7)

    status, _ = await press_stop(http, fake_telegram, 7)

    assert status == 400
    assert len(fake_telegram.pending_updates) == 1


async def test_a_draft_replaced_by_a_message_cannot_be_stopped(
    bot: Bot, fake_telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    await bot.send_message_draft(PRIVATE, draft_id=7, text="Думаю…", can_stop=True)
    await bot.send_message(PRIVATE, "the answer")

    status, body = await press_stop(http, fake_telegram, 7)

    assert (status, body["error"]) == (404, f"LookupError: no live draft 7 in chat {PRIVATE}")
    assert fake_telegram.pending_updates == []


async def test_a_draft_older_than_30_seconds_cannot_be_stopped(
    bot: Bot,
    fake_telegram: FakeTelegram,
    telegram_clock: ManualClock,
    http: aiohttp.ClientSession,
) -> None:
    await bot.send_message_draft(PRIVATE, draft_id=7, text="Думаю…", can_stop=True)
    telegram_clock.advance(31)

    status, body = await press_stop(http, fake_telegram, 7)

    assert (status, body["error"]) == (404, f"LookupError: no live draft 7 in chat {PRIVATE}")


async def test_a_draft_never_sent_cannot_be_stopped(
    fake_telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    status, body = await press_stop(http, fake_telegram, 99)

    assert (status, body["error"]) == (404, f"LookupError: no live draft 99 in chat {PRIVATE}")


async def test_the_stop_reaches_a_webhook_like_any_update(
    bot: Bot, fake_telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    async with webhook_receiver([]) as receiver:
        await bot.set_webhook(receiver.url)
        await bot.send_message_draft(PRIVATE, draft_id=7, text="Думаю…", can_stop=True)

        await press_stop(http, fake_telegram, 7)
        await fake_telegram.wait_until_delivered()

    [(_secret, body)] = receiver.requests
    update = Update.model_validate_json(body)
    assert update.stopped_message_generation is not None
    assert update.stopped_message_generation.draft_id == 7
