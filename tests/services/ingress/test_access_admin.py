"""Access requests, the admins' side: approve and deny presses on the cards, and refusals.

Each test plays the notifier: the card is a bot message in the admin's chat
with the two buttons, exactly the data the notifier sends.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import aiohttp
import msgspec
import pytest
import redis.asyncio as aioredis

from services.fakes.api import FakeApi
from services.fakes.telegram import FakeTelegram, FormattedText
from services.fakes.telegram.records import CallbackPress
from services.ingress.access_admin import clock
from services.ingress.access_store import AccessStore, now_ms
from services.ingress.keyboards import quick_keyboard
from shared.access import records
from shared.access.records import AccessOutcome, AccessRequest
from shared.texts import RU
from tests.services.ingress.conftest import (
    ADMIN,
    KNOWN,
    STRANGER,
    RunningIngress,
    StartIngress,
    post,
    queued,
    webhook_env_on_a_free_port,
)
from tests.services.ingress.test_access_stranger import (
    audit,
    open_rid,
    request_access,
    request_hash,
    sent_markup,
    write,
)
from tests.services.ingress.test_callbacks import press

ENV_ADMIN = 3003
"""An admin by ``ADMIN_TELEGRAM_IDS`` only: the API does not know them."""
USERS = "/api/users/"
_query_ids = itertools.count(900_001)


@pytest.fixture
async def running(
    fake_telegram: FakeTelegram,
    fake_api: FakeApi,
    known_user: dict[str, Any],
    start_ingress: StartIngress,
) -> RunningIngress:
    fake_api.add_user(ADMIN, first_name="Ада", is_admin=True)
    fake_telegram.user(ADMIN)["first_name"] = "Ада"
    fake_telegram.lift_flood_limits()
    return await start_ingress(TELEGRAM_RATE_CHAT_PER_S="100", ADMIN_TELEGRAM_IDS=str(ENV_ADMIN))


@pytest.fixture
async def rid(fake_telegram: FakeTelegram, redis: aioredis.Redis, running: RunningIngress) -> str:
    """A stranger asked: their open request's id."""
    await write(fake_telegram, "Я Ева, из бухгалтерии")
    await request_access(fake_telegram)
    return await open_rid(redis)


def card(fake_telegram: FakeTelegram, admin: int, rid: str) -> dict[str, Any]:
    """The card the notifier would send ``admin``."""
    buttons = [
        {"text": "✅ Одобрить", "callback_data": f"{records.APPROVE_PREFIX}{rid}"},
        {"text": "❌ Отклонить", "callback_data": f"{records.DENY_PREFIX}{rid}"},
    ]
    markup = {"inline_keyboard": [buttons]}
    return fake_telegram.post_bot_message(admin, FormattedText("card"), reply_markup=markup)


async def approve(fake_telegram: FakeTelegram, rid: str, admin: int = ADMIN) -> str:
    shown = card(fake_telegram, admin, rid)
    return await press(fake_telegram, shown, f"{records.APPROVE_PREFIX}{rid}", chat_id=admin)


async def deny(fake_telegram: FakeTelegram, rid: str, admin: int = ADMIN) -> str:
    shown = card(fake_telegram, admin, rid)
    return await press(fake_telegram, shown, f"{records.DENY_PREFIX}{rid}", chat_id=admin)


def user_writes(fake_api: FakeApi) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in fake_api.requests if r.method == "POST"]


async def outcomes(redis: aioredis.Redis) -> list[AccessOutcome]:
    entries: list[tuple[bytes, dict[bytes, bytes]]] = await redis.xrange(records.OUTCOMES)  # type: ignore[assignment]
    return [records.outcome_decoder.decode(fields[b"data"]) for _id, fields in entries]


async def refusals(redis: aioredis.Redis) -> list[str]:
    return [e["reason"] for e in await audit(redis) if e["event"] == "access_refused"]


async def test_an_admins_approval_creates_the_user_once_as_that_admin(
    fake_telegram: FakeTelegram, fake_api: FakeApi, rid: str
) -> None:
    assert await approve(fake_telegram, rid) == RU.access_decision_approved

    assert user_writes(fake_api) == [
        {
            "telegram_id": STRANGER,
            "username": f"user{STRANGER}",
            "first_name": f"User{STRANGER}",
            "last_name": None,
            "is_admin": False,
        }
    ]
    (write_request,) = [r for r in fake_api.requests if r.method == "POST"]
    assert write_request.headers["X-Telegram-ID"] == str(ADMIN)


async def test_an_approval_closes_the_request_and_records_the_outcome_and_the_audit(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, rid: str
) -> None:
    await approve(fake_telegram, rid)

    (outcome,) = await outcomes(redis)
    assert (outcome.rid, outcome.decision, outcome.decided_by, outcome.decided_by_name) == (
        rid,
        "approved",
        ADMIN,
        "Ада",
    )
    assert (outcome.telegram_id, outcome.chat_id) == (STRANGER, STRANGER)
    assert json.loads(outcome.keyboard) == quick_keyboard(RU, admin=False)
    stored = await request_hash(redis, rid)
    assert (stored["status"], stored["decided_by"]) == ("approved", str(ADMIN))
    assert await redis.exists(records.by_user_key(STRANGER)) == 0
    assert await redis.zcard(records.OPEN) == await redis.zcard(records.QUEUE) == 0
    events = [(e["event"], e["by"]) for e in await audit(redis)]
    assert events == [("access_requested", STRANGER), ("access_approved", ADMIN)]


async def test_an_approved_stranger_is_served_as_known_at_once_and_nothing_earlier_is_forwarded(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, rid: str
) -> None:
    await approve(fake_telegram, rid)

    await write(fake_telegram, "теперь можно?")

    assert [(m.telegram_id, m.text) for m in await queued(redis)] == [(STRANGER, "теперь можно?")]


async def test_an_admin_by_admin_telegram_ids_unknown_to_the_api_can_approve(
    fake_telegram: FakeTelegram, fake_api: FakeApi, redis: aioredis.Redis, rid: str
) -> None:
    assert await approve(fake_telegram, rid, admin=ENV_ADMIN) == RU.access_decision_approved

    (write_request,) = [r for r in fake_api.requests if r.method == "POST"]
    assert write_request.headers["X-Telegram-ID"] == str(ENV_ADMIN)
    assert [o.decided_by for o in await outcomes(redis)] == [ENV_ADMIN]


async def test_a_replayed_press_is_refused_with_who_decided_and_writes_nothing(
    fake_telegram: FakeTelegram, fake_api: FakeApi, redis: aioredis.Redis, rid: str
) -> None:
    await approve(fake_telegram, rid)
    decided_ms = int((await request_hash(redis, rid))["decided_ms"])
    hhmm = RU.access_outcome["approved"].format(
        name="Ада", time=clock(decided_ms, RU.access_decision_time)
    )

    again = await approve(fake_telegram, rid, admin=ENV_ADMIN)

    assert again == RU.access_decided.format(outcome=hhmm)
    assert len(user_writes(fake_api)) == 1
    assert len(await outcomes(redis)) == 1
    assert await refusals(redis) == ["decided"]


async def test_a_press_by_a_non_admin_is_refused_and_writes_nothing(
    fake_telegram: FakeTelegram, fake_api: FakeApi, redis: aioredis.Redis, rid: str
) -> None:
    assert await approve(fake_telegram, rid, admin=KNOWN) == RU.access_not_admin
    assert await deny(fake_telegram, rid, admin=KNOWN) == RU.access_not_admin

    assert user_writes(fake_api) == []
    assert (await request_hash(redis, rid))["status"] == "pending"
    assert await outcomes(redis) == []
    assert await refusals(redis) == ["not_admin", "not_admin"]


async def test_a_strangers_press_on_a_card_is_rejected_like_any_strangers_update(
    fake_telegram: FakeTelegram, fake_api: FakeApi, redis: aioredis.Redis, rid: str
) -> None:
    intruder = STRANGER + 1

    assert await approve(fake_telegram, rid, admin=intruder) == RU.access_denied

    assert user_writes(fake_api) == []
    assert (await request_hash(redis, rid))["status"] == "pending"


async def test_a_known_user_pressing_the_request_button_is_told_they_have_access(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, running: RunningIngress
) -> None:
    shown = card(fake_telegram, KNOWN, "unused")

    answer = await press(fake_telegram, shown, records.ASK_DATA, chat_id=KNOWN)

    assert answer == RU.access_request_known
    assert await redis.exists(records.by_user_key(KNOWN)) == 0


async def test_an_admin_removed_after_the_card_was_sent_is_refused(
    fake_telegram: FakeTelegram, fake_api: FakeApi, redis: aioredis.Redis, rid: str
) -> None:
    shown = card(fake_telegram, ADMIN, rid)
    await write(fake_telegram, "hi", chat_id=ADMIN)  # known to this replica's auth cache now
    (admin,) = [u for u in fake_api.users if u["telegram_id"] == ADMIN]
    admin["is_admin"] = False

    answer = await press(fake_telegram, shown, f"{records.APPROVE_PREFIX}{rid}", chat_id=ADMIN)

    assert answer == RU.access_not_admin
    assert user_writes(fake_api) == []
    assert (await request_hash(redis, rid))["status"] == "pending"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("ar1:y:AAAAAAAAAAAAAAAA", "unknown"),  # the right shape, no such request
        ("ar1:n:AAAAAAAAAAAAAAAA", "unknown"),
        ("ar1:y:{rid}x", "forged"),
        ("ar1:y:{rid_short}", "forged"),
        ("ar1:x:{rid}", "forged"),
        ("ar1:y:", "forged"),
        ("ar1:y:../../{rid_short}", "forged"),
    ],
)
async def test_forged_data_is_refused_and_writes_nothing(
    fake_telegram: FakeTelegram,
    fake_api: FakeApi,
    redis: aioredis.Redis,
    rid: str,
    data: str,
    reason: str,
) -> None:
    shown = card(fake_telegram, ADMIN, rid)
    forged = data.format(rid=rid, rid_short=rid[:-1])

    answer = await press(fake_telegram, shown, forged, chat_id=ADMIN)

    assert answer == RU.access_unknown_request
    assert user_writes(fake_api) == []
    assert (await request_hash(redis, rid))["status"] == "pending"
    assert await refusals(redis) == [reason]


async def test_when_the_api_fails_the_request_is_pending_again_and_the_admin_is_told(
    fake_telegram: FakeTelegram, fake_api: FakeApi, redis: aioredis.Redis, rid: str
) -> None:
    await write(fake_telegram, "hi", chat_id=ENV_ADMIN)  # this replica's auth cache has them
    fake_api.fail_with = 503

    assert await approve(fake_telegram, rid, admin=ENV_ADMIN) == RU.access_approve_failed

    stored = await request_hash(redis, rid)
    assert (stored["status"], stored["decided_by"], stored["claim_until_ms"]) == (
        "pending",
        "0",
        "0",
    )
    assert await outcomes(redis) == []
    assert await open_rid(redis) == rid
    fake_api.fail_with = None
    assert await approve(fake_telegram, rid, admin=ENV_ADMIN) == RU.access_decision_approved
    assert [o.decision for o in await outcomes(redis)] == ["approved"]


async def test_a_deny_records_the_outcome_and_sets_the_cooldown(
    fake_telegram: FakeTelegram, fake_api: FakeApi, redis: aioredis.Redis, rid: str
) -> None:
    assert await deny(fake_telegram, rid) == RU.access_decision_denied

    (outcome,) = await outcomes(redis)
    assert (outcome.decision, outcome.decided_by_name, outcome.chat_id) == (
        "denied",
        "Ада",
        STRANGER,
    )
    assert (await request_hash(redis, rid))["status"] == "denied"
    assert await redis.ttl(records.denied_key(STRANGER)) > 7 * 24 * 3600 - 60
    assert await redis.exists(records.by_user_key(STRANGER)) == 0
    assert await redis.zcard(records.OPEN) == 0
    assert [e["event"] for e in await audit(redis)] == ["access_requested", "access_denied"]
    assert user_writes(fake_api) == []


async def test_after_a_deny_the_button_is_not_offered_during_the_cooldown(
    fake_telegram: FakeTelegram, running: RunningIngress, rid: str
) -> None:
    await deny(fake_telegram, rid)
    running.clock.advance(61)  # the stranger may be told again

    await write(fake_telegram, "а теперь?")

    assert fake_telegram.chat(STRANGER).texts[-1].startswith(RU.access_denied)
    assert sent_markup(fake_telegram, STRANGER) == {"remove_keyboard": True}


async def test_a_deny_after_an_approval_changes_nothing(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, rid: str
) -> None:
    await approve(fake_telegram, rid)

    answer = await deny(fake_telegram, rid, admin=ENV_ADMIN)

    assert answer.startswith("Уже решено: ✅ Ада")
    assert [o.decision for o in await outcomes(redis)] == ["approved"]
    assert await redis.exists(records.denied_key(STRANGER)) == 0


async def test_two_admins_approving_at_once_on_two_replicas_write_once(
    fake_telegram: FakeTelegram,
    fake_api: FakeApi,
    redis: aioredis.Redis,
    known_user: dict[str, Any],
    start_ingress: StartIngress,
) -> None:
    fake_api.add_user(ADMIN, first_name="Ада", is_admin=True)
    fake_api.add_user(ADMIN + 1, first_name="Грейс", is_admin=True)
    envs = [webhook_env_on_a_free_port(), webhook_env_on_a_free_port()]
    for env in envs:
        await start_ingress(**env)
    await fake_telegram.wait_for_call("setWebhook", count=2)
    rid = records.new_request_id()
    store = AccessStore(redis, ttl_s=3600, cooldown_s=3600)
    asked = AccessRequest(rid=rid, telegram_id=STRANGER, chat_id=STRANGER, created_ms=now_ms())
    assert await store.ask(asked) == ("created", rid)
    presses = [
        _card_press(fake_telegram, admin, f"{records.APPROVE_PREFIX}{rid}", update_id)
        for admin, update_id in ((ADMIN, 501), (ADMIN + 1, 502))
    ]

    async with aiohttp.ClientSession() as http:
        statuses = await asyncio.gather(
            *(post(http, env["WEBHOOK_URL"], body) for env, body in zip(envs, presses, strict=True))
        )

    assert statuses == [200, 200]
    assert len(user_writes(fake_api)) == 1
    assert [o.decision for o in await outcomes(redis)] == ["approved"]
    answers = [a["text"] for a in fake_telegram.callback_answers]
    assert len(answers) == 2
    answers.remove(RU.access_decision_approved)
    assert answers[0].startswith(("Уже решено: ✅", "Запрос уже одобряет"))


def _card_press(fake_telegram: FakeTelegram, admin: int, data: str, update_id: int) -> bytes:
    """The update Telegram posts when ``admin`` presses ``data`` on their card."""
    shown = card(fake_telegram, admin, "unused")
    query_id = str(next(_query_ids))
    fake_telegram.open_callback_queries[query_id] = CallbackPress(
        query_id, shown["message_id"], data, admin
    )
    query = {
        "id": query_id,
        "from": fake_telegram.user(admin),
        "message": shown,
        "chat_instance": "1",
        "data": data,
    }
    return msgspec.json.encode({"update_id": update_id, "callback_query": query})
