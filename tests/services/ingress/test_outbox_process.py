"""Answers survive the ingress: a real process killed with its answers unsent.

aiogram takes seconds of CPU to import in a fresh process, so only the
process that is killed is one; the next ingress runs in the test's loop.
"""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from services.fakes.telegram import Failure, FakeTelegram
from shared import keys
from shared.ratelimit import FloodLimiter
from shared.texts import RU
from tests.plugins.processes import StartService
from tests.services.ingress.conftest import KNOWN, STRANGER, StartIngress

STARTUP_S = 30.0
FAST_RECOVERY = {
    "INGRESS_ALIVE_TTL_S": "1",
    "INGRESS_ALIVE_REFRESH_S": "0.2",
    "ANSWERS_SCAN_S": "0.2",
}


async def lift_pauses(redis: aioredis.Redis, chats: list[int]) -> None:
    """Telegram's ``retry_after`` is over: the pauses it set (and a dead request's mark) end."""
    limiter = FloodLimiter(redis)
    names = [limiter.global_pause_key()]
    for chat in chats:
        names += [limiter.chat_pause_key(chat), limiter.flight_key(chat)]
    await redis.delete(*names)


@pytest.mark.usefixtures("known_user")
async def test_answers_held_by_a_429_when_the_ingress_is_killed_arrive_exactly_once_after_restart(
    fake_telegram: FakeTelegram,
    redis: aioredis.Redis,
    start_service: StartService,
    start_ingress: StartIngress,
) -> None:
    for chat in (KNOWN, STRANGER):
        fake_telegram.fail_next("sendMessage", Failure.too_many_requests(600), chat_id=chat)
    killed = start_service("ingress", **FAST_RECOVERY)
    await fake_telegram.wait_for_poller(timeout=STARTUP_S)

    fake_telegram.inject_message(KNOWN, "/help")
    fake_telegram.inject_message(STRANGER, "let me in")
    await fake_telegram.wait_until_delivered(timeout=STARTUP_S)  # both confirmed
    await fake_telegram.wait_for_call(
        "sendMessage", count=2, where=lambda c: c.status == 429, timeout=STARTUP_S
    )
    killed.kill()
    assert await redis.xlen(keys.ANSWERS) == 2

    await lift_pauses(redis, [KNOWN, STRANGER])
    running = await start_ingress(**FAST_RECOVERY)
    await fake_telegram.wait_for_messages(KNOWN, timeout=10)
    await fake_telegram.wait_for_messages(STRANGER, timeout=10)
    await asyncio.wait_for(running.ingress.courier.join(), 10)

    assert fake_telegram.chat(KNOWN).texts == [RU.help]
    [rejection] = fake_telegram.chat(STRANGER).texts
    assert rejection.startswith(RU.access_denied)
    assert await redis.xlen(keys.ANSWERS) == 0
