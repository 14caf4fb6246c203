"""The sandbox's PO personas through a real relay: what a person on the page sees.

The personas are the fake worker-manager's (``services.fakes.workers.personas``),
at shortened times; the relay and the fake Telegram are the real thing.
"""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from services.fakes.telegram import FakeTelegram
from services.fakes.workers import FakeWorkerManager
from services.fakes.workers.personas import proactive, streaming, thinking_aloud
from tests.services.relay.conftest import StartRelay, chat_of, write_message

USER = 13
CHAT = chat_of(USER)


async def test_the_streaming_persona_shows_typing_then_growing_drafts_then_the_reply_once(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_telegram.lift_flood_limits()
    fake_workers.scripts[USER] = streaming(think_s=1.0, step_s=0.3, steps=4)
    await start_relay()

    await write_message(redis, USER, "a landing page")

    [reply] = await fake_telegram.wait_for_messages(CHAT, 1, timeout=15)
    final = thinking_aloud(fake_workers.inputs[0])
    assert reply["text"] == final
    chat = fake_telegram.chat(CHAT)
    assert chat.texts == [final]
    drafts = [d.text for d in chat.draft_history]
    assert drafts, "no snapshot was previewed"
    assert all(final.startswith(d) and d != final for d in drafts)
    assert drafts == sorted(drafts, key=len)
    assert [a.action for a in chat.actions][:1] == ["typing"]
    first_draft = min(d.time for d in chat.draft_history)
    assert chat.actions[0].time < first_draft


@pytest.mark.parametrize("po_contract", ["seed", "worker-streams"])
async def test_the_proactive_persona_s_reminder_reaches_the_chat_after_the_echo(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_workers.scripts[USER] = proactive(after_s=1.0)
    await start_relay()

    await write_message(redis, USER, "deploy the shop")

    await fake_telegram.wait_for_messages(CHAT, 2, timeout=15)
    echo, reminder = fake_telegram.chat(CHAT).texts
    assert echo == "echo: deploy the shop"
    assert reminder.startswith("Напоминание:")
    assert "deploy the shop" in reminder
