"""Access requests, the stranger's side: the button under the rejection, the press, reminders.

The admins' side (approve, deny, refusals) is in ``test_access_admin.py``;
the cards and the outcomes' delivery are the notifier's.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis.asyncio as aioredis

from services.fakes.api import FakeApi
from services.fakes.telegram import FakeTelegram
from services.ingress.access_store import first_message_key
from shared.access import records
from shared.connections import text, texts
from shared.texts import RU
from tests.services.ingress.conftest import KNOWN, STRANGER, RunningIngress, StartIngress, handled
from tests.services.ingress.test_auth import rejection
from tests.services.ingress.test_callbacks import inline_keyboard, press

GROUP = -4242
ASK_BUTTON = [[RU.access_request_button]]


async def write(fake_telegram: FakeTelegram, text: str, chat_id: int = STRANGER) -> None:
    await handled(fake_telegram, fake_telegram.inject_message(chat_id, text))


async def request_access(fake_telegram: FakeTelegram, chat_id: int = STRANGER) -> str:
    """Press the request button under the stranger's latest rejection; the press's answer."""
    rejected = fake_telegram.chat(chat_id).sent[-1]
    return await press(fake_telegram, rejected, records.ASK_DATA, chat_id=chat_id)


async def open_rid(redis: aioredis.Redis, telegram_id: int = STRANGER) -> str:
    rid = await redis.get(records.by_user_key(telegram_id))
    assert rid is not None, "no open request"
    return text(rid)


async def request_hash(redis: aioredis.Redis, rid: str) -> dict[str, str]:
    raw: dict[bytes | str, bytes | str] = await redis.hgetall(records.request_key(rid))
    return {text(k): text(v) for k, v in raw.items()}


async def audit(redis: aioredis.Redis) -> list[dict[str, Any]]:
    entries: list[tuple[bytes, dict[bytes, bytes]]] = await redis.xrange(records.AUDIT)  # type: ignore[assignment]
    return [json.loads(fields[b"data"]) for _id, fields in entries]


def sent_markup(fake_telegram: FakeTelegram, chat_id: int) -> Any:
    """The ``reply_markup`` of the bot's latest ``sendMessage`` to ``chat_id``, as sent."""
    calls = [c for c in fake_telegram.calls_to("sendMessage") if c.params["chat_id"] == chat_id]
    markup = calls[-1].params.get("reply_markup")
    return json.loads(markup) if isinstance(markup, str) else markup


@pytest.fixture
async def running(fake_telegram: FakeTelegram, start_ingress: StartIngress) -> RunningIngress:
    fake_telegram.lift_flood_limits()
    return await start_ingress(TELEGRAM_RATE_CHAT_PER_S="100")


@pytest.mark.usefixtures("running")
async def test_a_stranger_in_a_private_chat_gets_the_same_rejection_with_a_request_button(
    fake_telegram: FakeTelegram,
) -> None:
    await write(fake_telegram, "let me in")

    (rejected,) = fake_telegram.chat(STRANGER).sent
    assert rejected["text"] == rejection(STRANGER)
    assert inline_keyboard(rejected) == ASK_BUTTON
    assert rejected["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "ar1:ask"


@pytest.mark.usefixtures("running")
async def test_a_stranger_in_a_group_gets_no_button_and_nothing_at_all(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    update = fake_telegram.inject_message(GROUP, "let me in", user_id=STRANGER)

    await handled(fake_telegram, update)

    assert fake_telegram.chat(GROUP).sent == []
    assert fake_telegram.chat(STRANGER).sent == []
    assert await redis.exists(first_message_key(STRANGER)) == 0, "group words are not kept"


@pytest.mark.usefixtures("running")
async def test_a_press_opens_one_pending_request_with_the_strangers_details(
    fake_telegram: FakeTelegram, fake_api: FakeApi, redis: aioredis.Redis
) -> None:
    person = fake_telegram.user(STRANGER)
    person.update(first_name='<a href="http://x">Ева</a> *жир*', last_name="Л", language_code="ru")
    await write(fake_telegram, "/start")
    await write(fake_telegram, "  Я из бухгалтерии, " + "очень " * 100)

    assert await request_access(fake_telegram) == ""

    assert fake_telegram.chat(STRANGER).texts[-1] == RU.access_request_sent
    rid = await open_rid(redis)
    stored = await request_hash(redis, rid)
    assert stored["status"] == "pending"
    assert stored["first_name"] == '<a href="http://x">Ева</a> *жир*', "kept as written"
    assert (stored["last_name"], stored["username"], stored["language"]) == ("Л", "user666", "ru")
    assert (stored["telegram_id"], stored["chat_id"]) == (str(STRANGER), str(STRANGER))
    assert stored["first_message"] == ("Я из бухгалтерии, " + "очень " * 100)[:300]
    assert int(stored["created_ms"]) > 0
    assert texts(await redis.zrange(records.QUEUE, 0, -1)) == [rid]
    assert texts(await redis.zrange(records.OPEN, 0, -1)) == [rid]
    (requested,) = await audit(redis)
    assert requested | {"at_ms": None} == {
        "event": "access_requested",
        "at_ms": None,
        "by": STRANGER,
        "rid": rid,
        "telegram_id": STRANGER,
    }
    assert [r for r in fake_api.requests if r.method != "GET"] == [], "no API write"


@pytest.mark.usefixtures("running")
async def test_pressing_again_while_pending_changes_nothing(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    await write(fake_telegram, "hello")
    await request_access(fake_telegram)
    rid = await open_rid(redis)
    rejected = fake_telegram.chat(STRANGER).sent[0]

    again = await press(fake_telegram, rejected, records.ASK_DATA, chat_id=STRANGER)

    assert again == RU.access_request_pending
    assert await open_rid(redis) == rid
    assert await redis.zcard(records.QUEUE) == 1
    assert len(await audit(redis)) == 1
    assert fake_telegram.chat(STRANGER).texts == [rejection(STRANGER), RU.access_request_sent]


async def test_while_pending_further_messages_get_one_reminder_an_hour(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, running: RunningIngress
) -> None:
    await write(fake_telegram, "hello")
    await request_access(fake_telegram)

    await write(fake_telegram, "are you there?")
    running.clock.advance(61)  # past the rejection's own once-per-period
    await write(fake_telegram, "hello??")
    running.clock.advance(61)
    await write(fake_telegram, "anyone?")

    assert fake_telegram.chat(STRANGER).texts == [
        rejection(STRANGER),
        RU.access_request_sent,
        RU.access_request_pending,
    ]
    assert 3500 < await redis.ttl(records.reminded_key(STRANGER)) <= 3600


async def test_a_press_during_a_denials_cooldown_is_refused_and_opens_nothing(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, running: RunningIngress
) -> None:
    await write(fake_telegram, "hello")
    rejected = fake_telegram.chat(STRANGER).sent[0]
    await redis.set(records.denied_key(STRANGER), "earlier", ex=600)

    answer = await press(fake_telegram, rejected, records.ASK_DATA, chat_id=STRANGER)

    assert answer == RU.access_request_cooldown
    assert await redis.exists(records.by_user_key(STRANGER)) == 0
    assert await redis.zcard(records.QUEUE) == 0


async def test_with_access_requests_off_the_rejection_is_exactly_todays(
    fake_telegram: FakeTelegram,
    fake_api: FakeApi,
    redis: aioredis.Redis,
    start_ingress: StartIngress,
) -> None:
    await start_ingress(ACCESS_REQUESTS="false")
    await write(fake_telegram, "let me in")
    rejected = fake_telegram.chat(STRANGER).sent[0]

    answer = await press(fake_telegram, rejected, records.ASK_DATA, chat_id=STRANGER)

    assert fake_telegram.chat(STRANGER).texts == [rejection(STRANGER)]
    assert sent_markup(fake_telegram, STRANGER) == {"remove_keyboard": True}
    assert answer == RU.access_denied, "the press is a stranger's like any other"
    assert await redis.keys(f"{records.PREFIX}*") == []
    assert await redis.exists(records.AUDIT) == 0
    assert [r for r in fake_api.requests if r.method != "GET"] == []


async def test_a_removed_user_loses_the_keyboard_first_and_is_offered_the_button_next_time(
    fake_telegram: FakeTelegram,
    fake_api: FakeApi,
    known_user: dict[str, Any],
    running: RunningIngress,
) -> None:
    await write(fake_telegram, "/start", chat_id=KNOWN)  # the quick-action keyboard shown
    fake_api.users.remove(known_user)
    running.clock.advance(61)  # past AUTH_CACHE_TTL_S

    await write(fake_telegram, "hello", chat_id=KNOWN)
    assert sent_markup(fake_telegram, KNOWN) == {"remove_keyboard": True}
    assert fake_telegram.chat(KNOWN).keyboard is None
    running.clock.advance(61)  # the stranger may be told again
    await write(fake_telegram, "hello?", chat_id=KNOWN)

    assert fake_telegram.chat(KNOWN).texts[-2:] == [rejection(KNOWN), rejection(KNOWN)]
    assert inline_keyboard(fake_telegram.chat(KNOWN).sent[-1]) == ASK_BUTTON
