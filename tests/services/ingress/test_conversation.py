"""``/stop``, ``/new`` and ``/status`` as the ingress handles them.

The ingress only queues ``/stop`` and a confirmed ``/new`` for the relays
(``tests/services/relay/test_control.py`` covers what they do) and answers
``/status`` from Redis, never asking the PO.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aioredis

from services.fakes.telegram import FakeTelegram
from shared import keys
from shared.texts import RU
from tests.services.ingress.conftest import KNOWN, KNOWN_USER_ID, StartIngress, handled, queued
from tests.services.ingress.test_callbacks import ask, data_of, inline_keyboard, press, shown


@pytest.fixture
async def running(
    fake_telegram: FakeTelegram, known_user: dict[str, Any], start_ingress: StartIngress
) -> None:
    fake_telegram.lift_flood_limits()
    await start_ingress(TELEGRAM_RATE_CHAT_PER_S="100")


@pytest.mark.usefixtures("running")
async def test_stop_is_queued_for_the_relays_as_a_cancel_and_not_as_a_chat_message(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    await handled(fake_telegram, fake_telegram.inject_message(KNOWN, "/stop"))

    (stop,) = await queued(redis)
    assert (stop.kind, stop.user_id, stop.chat_id, stop.text) == (
        "cancel",
        KNOWN_USER_ID,
        KNOWN,
        "/stop",
    )
    assert fake_telegram.chat(KNOWN).sent == [], "the relay answers, not the ingress"


@pytest.mark.usefixtures("running")
async def test_new_asks_first_and_queues_nothing_until_confirmed(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    question = await ask(fake_telegram, "/new")

    assert question["text"] == RU.new_confirm
    assert inline_keyboard(question) == [[RU.new_yes, RU.new_no]]
    assert await queued(redis) == []


@pytest.mark.usefixtures("running")
async def test_a_confirmed_new_is_queued_once_with_the_question_as_its_key(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    question = await ask(fake_telegram, "/new")

    assert await press(fake_telegram, question, data_of(question, RU.new_yes)) == ""

    (restart,) = await queued(redis)
    assert (restart.kind, restart.confirm_id) == ("restart", question["message_id"])
    assert inline_keyboard(shown(fake_telegram, question)) == [], "the buttons are gone"


@pytest.mark.usefixtures("running")
async def test_declining_new_queues_nothing_and_says_the_conversation_goes_on(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    question = await ask(fake_telegram, "/new")

    await press(fake_telegram, question, data_of(question, RU.new_no))

    assert await queued(redis) == []
    assert shown(fake_telegram, question)["text"] == RU.new_declined


@pytest.mark.usefixtures("running")
async def test_status_without_an_assistant_says_one_starts_with_the_first_message(
    fake_telegram: FakeTelegram,
) -> None:
    answer = await ask(fake_telegram, "/status")

    assert answer["text"] == RU.status_none


@pytest.mark.usefixtures("running")
async def test_status_while_starting_says_so_and_counts_the_waiting_messages(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    await _session(redis, "STARTING", pending=2)

    answer = await ask(fake_telegram, "/status")

    assert answer["text"].splitlines() == [
        RU.status_starting,
        RU.status_waiting.format(count=2),
        RU.status_worker.format(worker_id=f"po-{KNOWN_USER_ID}"),
    ]


@pytest.mark.usefixtures("running")
async def test_status_while_working_says_for_how_long_and_how_many_wait_behind(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    await _session(redis, "RUNNING", pending=3, first_age_ms=5 * 60_000 + 10_000)

    answer = await ask(fake_telegram, "/status")

    assert answer["text"].splitlines() == [
        RU.status_working.format(duration=RU.duration_minutes.format(minutes=5)),
        RU.status_waiting.format(count=2),
        RU.status_worker.format(worker_id=f"po-{KNOWN_USER_ID}"),
    ]


@pytest.mark.usefixtures("running")
async def test_status_of_an_idle_assistant_leaves_out_requests_the_user_stopped(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    await _session(redis, "RUNNING", pending=1)
    await redis.sadd(keys.cancelled(KNOWN_USER_ID), "request-0")

    answer = await ask(fake_telegram, "/status")

    assert answer["text"].splitlines()[0] == RU.status_idle


@pytest.mark.usefixtures("running")
async def test_status_of_a_failed_assistant_says_the_next_message_starts_a_new_one(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    await _session(redis, "FAILED", pending=0)

    answer = await ask(fake_telegram, "/status")

    assert answer["text"].splitlines()[0] == RU.status_failed


async def _session(
    redis: aioredis.Redis, status: str, *, pending: int, first_age_ms: int = 0
) -> None:
    """What the relays and the worker-manager leave in Redis for user 7."""
    worker = f"po-{KNOWN_USER_ID}"
    await redis.set(keys.session(KNOWN_USER_ID), worker)
    await redis.hset(keys.worker_status(worker), "status", status)
    seconds, micros = await redis.time()
    now_ms = int(seconds) * 1000 + int(micros) // 1000
    for n in range(pending):
        await redis.zadd(keys.pending(KNOWN_USER_ID), {f"request-{n}": now_ms - first_age_ms + n})
