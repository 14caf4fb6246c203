"""Access requests, the notifier side: the admins' cards (real notifiers, fake Telegram and API).

Requests are written to Redis exactly as the ingress writes them
(``shared.access.records``): the hash, the stranger's open-request key, the
queue and the open set. Times come from Redis's clock, like the notifier's.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import pytest
import redis.asyncio as aioredis
from redis.typing import EncodableT, FieldT

from services.fakes.api import FakeApi
from services.fakes.telegram import Failure, FakeTelegram
from services.fakes.telegram.flood import FloodLimits
from services.fakes.telegram.records import Call
from shared.access.records import (
    AUDIT,
    OPEN,
    OUTCOMES,
    QUEUE,
    AccessRequest,
    AuditEntry,
    by_user_key,
    new_request_id,
    request_key,
)
from tests.plugins.processes import StartService
from tests.processes import ServiceProcess
from tests.services.notifier.test_notifier import (
    ADMIN,
    ENV_ADMIN,
    publish,
    start_notifier,
    success,
)

STRANGER = 7001
A_DECADE = str(10 * 365 * 24 * 3600)
"""``ACCESS_REQUEST_TTL_S`` where expiry is not the subject: requests of a fixed past time stay."""
REQUESTED_MS = 1796479320000
"""05.12.2026 14:02 UTC."""
CARD_HEAD = "🙋 Запрос доступа\n"


@pytest.fixture(autouse=True)
def _people(fake_telegram: FakeTelegram, fake_api: FakeApi) -> None:
    fake_telegram.lift_flood_limits()
    fake_api.add_user(ADMIN, is_admin=True, user_id=1)


async def access_notifier(
    start_service: StartService, name: str = "notifier-a", **env: str
) -> ServiceProcess:
    """A notifier (ADMIN from the API, ENV_ADMIN from the environment) with access requests."""
    env = {"ACCESS_REQUESTS": "true", "ACCESS_REQUEST_TTL_S": A_DECADE, **env}
    process = start_notifier(start_service, name, **env)
    await process.wait_for_event("notifier_started", timeout=30)
    return process


async def redis_ms(redis: aioredis.Redis) -> int:
    seconds, microseconds = await redis.time()
    return int(seconds) * 1000 + int(microseconds) // 1000


async def make_request(
    redis: aioredis.Redis,
    telegram_id: int = STRANGER,
    *,
    created_ms: int = REQUESTED_MS,
    **fields: str,
) -> AccessRequest:
    """A pending request, written as the ingress writes it."""
    request = AccessRequest(
        rid=new_request_id(),
        telegram_id=telegram_id,
        chat_id=telegram_id,
        created_ms=created_ms,
        **{"first_name": "Ада", "username": "ada", "language": "ru", **fields},  # type: ignore[arg-type]
    )
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(request_key(request.rid), mapping=hash_fields(request))
        pipe.set(by_user_key(telegram_id), request.rid)
        pipe.zadd(QUEUE, {request.rid: created_ms})
        pipe.zadd(OPEN, {request.rid: created_ms})
        await pipe.execute()
    return request


def hash_fields(request: AccessRequest) -> dict[FieldT, EncodableT]:
    return {k: str(v) for k, v in msgspec.structs.asdict(request).items()}


async def stored(redis: aioredis.Redis, rid: str) -> dict[str, str]:
    raw: dict[Any, Any] = await redis.hgetall(request_key(rid))
    return {k.decode(): v.decode() for k, v in raw.items()}


async def card_ids(redis: aioredis.Redis, rid: str) -> dict[str, int]:
    """The request's ``cards``: admin -> message id, as the notifier recorded them."""
    raw = (await stored(redis, rid)).get("cards", "")
    return dict(json.loads(raw)) if raw else {}


def cards(fake_telegram: FakeTelegram, chat_id: int) -> list[dict[str, Any]]:
    """The access cards in an admin's chat, edits applied, in order."""
    return [m for m in fake_telegram.chat(chat_id).sent if m["text"].startswith(CARD_HEAD)]


def card_telegram_ids(fake_telegram: FakeTelegram, chat_id: int) -> list[int]:
    """The stranger's Telegram id on each card in the chat, in order."""
    return [
        int(line.removeprefix("Telegram ID: "))
        for message in cards(fake_telegram, chat_id)
        for line in message["text"].splitlines()
        if line.startswith("Telegram ID: ")
    ]


async def wait_for_cards(
    fake_telegram: FakeTelegram, chat_id: int, count: int, timeout: float = 20
) -> None:
    await fake_telegram.wait_for(
        lambda: len(cards(fake_telegram, chat_id)) >= count,
        timeout,
        what=f"{count} cards in chat {chat_id}",
    )


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float = 20) -> None:
    """Wait until ``check()``: Redis tells no one, so ask it often."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def audited(redis: aioredis.Redis, event: str) -> list[AuditEntry]:
    entries: Any = await redis.xrange(AUDIT)
    found = [msgspec.json.decode(fields[b"data"], type=AuditEntry) for _, fields in entries]
    return [entry for entry in found if entry.event == event]


def events(process: ServiceProcess, name: str) -> list[dict[str, Any]]:
    return [event for event in process.events() if event.get("event") == name]


async def test_each_admin_gets_one_card_with_the_request_in_plain_text_and_two_buttons(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    request = await make_request(
        redis, last_name="Лавлейс", first_message="Здравствуйте, мне нужен доступ к проекту."
    )
    await access_notifier(start_service)

    for admin in (ADMIN, ENV_ADMIN):
        await wait_for_cards(fake_telegram, admin, 1)
    await wait_until(lambda: _queue_empty(redis))

    for admin in (ADMIN, ENV_ADMIN):
        (card,) = cards(fake_telegram, admin)
        assert card["text"] == (
            "🙋 Запрос доступа\n"
            "Имя: Ада Лавлейс\n"
            "Username: @ada\n"
            f"Telegram ID: {STRANGER}\n"
            "Язык: ru\n"
            "Запрошено: 05.12.2026 14:02 UTC\n"
            "Первое сообщение:\n"
            "Здравствуйте, мне нужен доступ к проекту."
        )
        assert card["reply_markup"] == {
            "inline_keyboard": [
                [
                    {"text": "✅ Одобрить", "callback_data": f"ar1:y:{request.rid}"},
                    {"text": "❌ Отклонить", "callback_data": f"ar1:n:{request.rid}"},
                ]
            ]
        }
    sends = fake_telegram.calls_to("sendMessage")
    assert len(sends) == 2
    assert all("parse_mode" not in call.params for call in sends)
    assert await card_ids(redis, request.rid) == {
        str(admin): cards(fake_telegram, admin)[0]["message_id"] for admin in (ADMIN, ENV_ADMIN)
    }
    (sent,) = await audited(redis, "access_cards_sent")
    assert (sent.rid, sent.telegram_id, sent.details["admins"]) == (request.rid, STRANGER, 2)
    assert sent.at_ms > 0


def _to(call: Call, chat_id: int) -> bool:
    return str(call.params.get("chat_id")) == str(chat_id)


async def _queue_empty(redis: aioredis.Redis) -> bool:
    return int(await redis.zcard(QUEUE)) == 0


async def test_a_first_name_with_html_and_markdown_shows_literally(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    hostile = (
        '<a href="https://evil.example">Ада</a> *жирный* _курсив_ [ссылка](https://evil.example)'
    )
    await make_request(
        redis, first_name=hostile, username="", language="", first_message="<b>x</b> & `y`"
    )
    await access_notifier(start_service)

    await wait_for_cards(fake_telegram, ADMIN, 1)

    (card,) = cards(fake_telegram, ADMIN)
    lines = card["text"].splitlines()
    assert lines[1] == f"Имя: {hostile}"
    assert lines[2] == "Username: —"
    assert lines[4] == "Язык: —"
    assert lines[-1] == "<b>x</b> & `y`"
    # No formatting: only the links Telegram finds by itself in any text.
    assert {e["type"] for e in card.get("entities", [])} <= {"url"}


async def test_past_the_hourly_cap_requests_wait_in_order_and_go_out_as_the_window_frees(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    # Telegram's limits on (raised, with the sender's budget to match): none is provoked.
    fake_telegram.set_flood_limits(FloodLimits(chat_rate=10, chat_burst=3, global_limit=100))
    window_s = 5.0
    now = await redis_ms(redis)
    strangers = [STRANGER + n for n in range(30)]
    for n, telegram_id in enumerate(strangers):
        await make_request(redis, telegram_id, created_ms=now + n)
    await access_notifier(
        start_service,
        TELEGRAM_RATE_CHAT_PER_S="10",
        TELEGRAM_RATE_GLOBAL_PER_S="100",
        ACCESS_REQUESTS_PER_HOUR="20",
        ACCESS_REQUESTS_WINDOW_S=str(window_s),
    )

    for admin in (ADMIN, ENV_ADMIN):
        await wait_for_cards(fake_telegram, admin, 30, timeout=40)

    for admin in (ADMIN, ENV_ADMIN):
        assert card_telegram_ids(fake_telegram, admin) == strangers
        sent_s = sorted(
            c.started for c in fake_telegram.calls_to("sendMessage") if c.ok and _to(c, admin)
        )
        assert sent_s[19] - sent_s[0] < window_s  # the first twenty at once
        # Then each waited for its place: never more than twenty in a window (a request's
        # flight time apart: the cap counts when the notifier took the request).
        assert all(sent_s[n + 20] - sent_s[n] > window_s - 0.2 for n in range(10))
    assert fake_telegram.throttled == []


async def test_two_notifiers_send_each_card_once(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    now = await redis_ms(redis)
    strangers = [STRANGER + n for n in range(12)]
    rids = [
        (await make_request(redis, tid, created_ms=now + n)).rid for n, tid in enumerate(strangers)
    ]

    await asyncio.gather(
        access_notifier(start_service, "notifier-a"), access_notifier(start_service, "notifier-b")
    )

    for admin in (ADMIN, ENV_ADMIN):
        await wait_for_cards(fake_telegram, admin, len(strangers))
    await wait_until(lambda: _queue_empty(redis))
    for admin in (ADMIN, ENV_ADMIN):
        assert sorted(card_telegram_ids(fake_telegram, admin)) == strangers
    for rid in rids:
        assert set(await card_ids(redis, rid)) == {str(ADMIN), str(ENV_ADMIN)}


async def test_a_notifier_killed_midway_leaves_the_rest_to_another_and_nothing_twice(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    request = await make_request(redis)
    fake_telegram.fail_next(
        "sendMessage", Failure.server_error(503), times=10_000, chat_id=ENV_ADMIN
    )
    first = await access_notifier(start_service, "notifier-a")
    await wait_for_cards(fake_telegram, ADMIN, 1)
    await fake_telegram.wait_for_call(
        "sendMessage", where=lambda call: call.status == 503, timeout=20
    )

    first.kill()
    # A send the dead notifier had under way is still failed when the fake answers it:
    # one that succeeded after its sender died is the sender's known lost-answer case.
    await fake_telegram.wait_for(lambda: all(c.finished for c in fake_telegram.calls))
    fake_telegram.clear_failures()
    second = await access_notifier(start_service, "notifier-b")

    await second.wait_for_event("access_cards_sent", timeout=30)
    assert len(cards(fake_telegram, ADMIN)) == 1
    assert len(cards(fake_telegram, ENV_ADMIN)) == 1
    assert set(await card_ids(redis, request.rid)) == {str(ADMIN), str(ENV_ADMIN)}
    assert await _queue_empty(redis)


async def test_an_admin_the_api_does_not_know_yet_gets_the_card_once_it_answers(
    fake_telegram: FakeTelegram,
    fake_api: FakeApi,
    redis: aioredis.Redis,
    start_service: StartService,
) -> None:
    api_admin = ENV_ADMIN + 100  # known only through the API
    fake_api.add_user(api_admin, is_admin=True, user_id=3)
    fake_api.down = True
    request = await make_request(redis)
    process = await access_notifier(start_service)

    await process.wait_for_event("access_cards_incomplete", timeout=20)
    assert len(cards(fake_telegram, ENV_ADMIN)) == 1
    assert cards(fake_telegram, api_admin) == []
    fake_api.down = False
    await wait_for_cards(fake_telegram, api_admin, 1)
    await process.wait_for_event("access_cards_sent", timeout=20)

    for admin in (ADMIN, ENV_ADMIN, api_admin):
        assert len(cards(fake_telegram, admin)) == 1
    assert set(await card_ids(redis, request.rid)) == {str(ADMIN), str(ENV_ADMIN), str(api_admin)}


async def test_with_access_requests_off_the_notifier_touches_none_of_them(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    # Due for a card, due to expire, and decided: nothing happens to any of it.
    request = await make_request(redis)
    await redis.xadd(OUTCOMES, {"data": b"{}"})
    process = start_notifier(
        start_service, "notifier-a", ACCESS_REQUESTS="false", ACCESS_REQUEST_TTL_S="1"
    )
    await process.wait_for_event("stream_group_created", timeout=30)

    await publish(redis, success("srv-1"))

    for admin in (ADMIN, ENV_ADMIN):
        await fake_telegram.wait_for_messages(admin, 1, timeout=20)
        assert [m["text"].split()[2] for m in fake_telegram.chat(admin).sent] == ["srv-1"]
    assert fake_telegram.chat(STRANGER).sent == []
    assert (await stored(redis, request.rid))["status"] == "pending"
    assert int(await redis.zcard(QUEUE)) == 1
    groups: list[Any] = await redis.xinfo_groups(OUTCOMES)
    assert groups == []
