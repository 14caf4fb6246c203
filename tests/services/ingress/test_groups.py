"""Groups: the bot never posts a stranger's rejection where the whole group would read it."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis.asyncio as aioredis
import structlog

from services.fakes.api import FakeApi
from services.fakes.telegram import FakeTelegram
from shared.texts import RU
from tests.services.ingress.conftest import (
    KNOWN,
    STRANGER,
    RunningIngress,
    StartIngress,
    handled,
    queued,
)

GROUP = -4242
SUPERGROUP = -1_001_234_567_890


@pytest.fixture
async def running(known_user: dict[str, Any], start_ingress: StartIngress) -> RunningIngress:
    return await start_ingress(AUTH_CACHE_UNKNOWN_TTL_S="10")


def joined(fake_telegram: FakeTelegram, chat_id: int, user_id: int) -> dict[str, Any]:
    """The service message Telegram sends when ``user_id`` joins the group ``chat_id``."""
    chat = fake_telegram.chat(chat_id)
    person = fake_telegram.user(user_id)
    message = {
        "message_id": chat.next_message_id(),
        "from": person,
        "chat": chat.info,
        "date": int(time.time()),
        "new_chat_members": [person],
    }
    return fake_telegram.inject_update({"message": message})


@pytest.mark.usefixtures("running")
@pytest.mark.parametrize(("chat_id", "chat_type"), [(GROUP, "group"), (SUPERGROUP, "supergroup")])
async def test_a_stranger_writing_in_a_group_gets_nothing_posted_and_is_logged_once_at_info(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, chat_id: int, chat_type: str
) -> None:
    with structlog.testing.capture_logs() as logs:
        update = fake_telegram.inject_message(chat_id, "hi bot, who are you?", user_id=STRANGER)
        await handled(fake_telegram, update)

    assert fake_telegram.chat(chat_id).texts == []
    assert fake_telegram.chat(STRANGER).texts == []
    assert await queued(redis) == []
    (rejected,) = [e for e in logs if e["event"].startswith("user_rejected")]
    assert rejected["event"] == "user_rejected"
    assert rejected["log_level"] == "info"
    assert (rejected["chat_type"], rejected["chat_id"]) == (chat_type, chat_id)
    assert (rejected["telegram_id"], rejected["notified"]) == (STRANGER, False)


@pytest.mark.usefixtures("running")
async def test_a_stranger_joining_a_group_gets_nothing_posted(
    fake_telegram: FakeTelegram,
) -> None:
    await handled(fake_telegram, joined(fake_telegram, GROUP, STRANGER))

    assert fake_telegram.chat(GROUP).texts == []
    assert fake_telegram.chat(STRANGER).texts == []


@pytest.mark.usefixtures("running")
async def test_a_known_user_in_a_group_still_gets_the_private_only_explanation(
    fake_telegram: FakeTelegram,
) -> None:
    await handled(fake_telegram, fake_telegram.inject_message(GROUP, "hi", user_id=STRANGER))
    await handled(fake_telegram, fake_telegram.inject_message(GROUP, "hi", user_id=KNOWN))

    assert fake_telegram.chat(GROUP).texts == [RU.private_only]


@pytest.mark.usefixtures("running")
async def test_with_the_api_down_nothing_is_posted_in_a_group(
    fake_telegram: FakeTelegram, fake_api: FakeApi
) -> None:
    fake_api.down = True

    await handled(fake_telegram, fake_telegram.inject_message(GROUP, "hi", user_id=KNOWN))

    assert fake_telegram.chat(GROUP).texts == []


async def test_a_strangers_group_message_does_not_count_as_telling_them(
    fake_telegram: FakeTelegram, running: RunningIngress
) -> None:
    await handled(fake_telegram, fake_telegram.inject_message(GROUP, "hi", user_id=STRANGER))
    await handled(fake_telegram, fake_telegram.inject_message(STRANGER, "right after"))

    (rejection,) = fake_telegram.chat(STRANGER).texts
    assert rejection.startswith(RU.access_denied)
    assert fake_telegram.chat(GROUP).texts == []
