"""The notifier keeps what it holds: no other replica takes a result it is still telling.

One keeper against a real Redis, driven by hand; then two notifier processes
with one admin's chat paused by a 429 longer than the claim idle time.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aioredis

from services.fakes.telegram import Failure, FakeTelegram
from services.notifier.claims import ClaimKeeper
from shared import keys
from tests.plugins.processes import StartService
from tests.services.notifier.test_notifier import (
    ADMIN,
    ENV_ADMIN,
    FAST,
    first_notifier,
    handles_told,
    pending,
    publish_at_once,
    start_notifier,
    stop,
    success,
    told,
    wait_for_blocked_readers,
)

STREAM, GROUP, ME = keys.PROVISIONER_RESULTS, keys.NOTIFIER_GROUP, "notifier-me"


async def read_three(redis: aioredis.Redis) -> list[str]:
    """Three entries read by ``ME`` in one XREADGROUP: all three held; their ids."""
    await redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    for n in range(3):
        await redis.xadd(STREAM, {"data": str(n)})
    reply: Any = await redis.xreadgroup(GROUP, ME, {STREAM: ">"}, count=3)
    return [raw_id.decode() for raw_id, _ in reply[0][1]]


async def deliveries(redis: aioredis.Redis) -> dict[str, int]:
    rows: list[dict[str, Any]] = await redis.xpending_range(STREAM, GROUP, "-", "+", 10)
    return {row["message_id"].decode(): int(row["times_delivered"]) for row in rows}


async def fail(_entry_id: str, _item: object) -> None:
    raise RuntimeError("Telegram is down")


async def test_held_entries_are_claimed_again_and_a_failed_one_is_left_to_age_until_redelivered(
    redis: aioredis.Redis,
) -> None:
    first, failed, third = await read_three(redis)
    keeper = ClaimKeeper(redis, stream=STREAM, group=GROUP, consumer=ME, claim_idle_ms=1000)
    with pytest.raises(RuntimeError):
        await keeper.holding(fail)(failed, None)

    assert await keeper.refresh() == [first, third]
    assert await keeper.refresh() == [first, third]
    # Claimed again without counting a delivery: a retry's count stays honest.
    assert await deliveries(redis) == dict.fromkeys([first, failed, third], 1)

    # Its retry (XAUTOCLAIM, here by this consumer) delivers it again: held once more.
    await redis.xautoclaim(STREAM, GROUP, ME, min_idle_time=0, start_id=failed, count=1)
    assert await keeper.refresh() == [first, failed, third]


async def test_an_entry_another_consumer_took_or_acknowledged_is_no_longer_claimed(
    redis: aioredis.Redis,
) -> None:
    first, taken, acked = await read_three(redis)
    keeper = ClaimKeeper(redis, stream=STREAM, group=GROUP, consumer=ME, claim_idle_ms=1000)
    await redis.xclaim(STREAM, GROUP, "notifier-other", 0, [taken])
    await redis.xack(STREAM, GROUP, acked)

    assert await keeper.refresh() == [first]
    rows: list[dict[str, Any]] = await redis.xpending_range(STREAM, GROUP, taken, taken, 1)
    assert rows[0]["consumer"] == b"notifier-other"


PAUSE_S = 3
"""Telegram's retry_after: three times the claim idle time (FAST: 1 s; 30 s by default)."""


async def test_two_notifiers_tell_each_admin_once_while_the_holder_waits_out_a_long_429(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    assert float(FAST["NOTIFIER_RETRY_AFTER_S"]) * 2 < PAUSE_S
    fake_telegram.fail_next("sendMessage", Failure.too_many_requests(PAUSE_S), chat_id=ENV_ADMIN)
    first = await first_notifier(start_service, "notifier-a")
    second = start_notifier(start_service, "notifier-b")
    await wait_for_blocked_readers(redis, 2)
    handles = [f"srv-{i}" for i in range(5)]

    # One notifier reads all five and is held by the pause on its first; the
    # other scans for idle results twice a second all the while.
    await publish_at_once(redis, [success(handle) for handle in handles])

    for chat in (ADMIN, ENV_ADMIN):
        await fake_telegram.wait_for_messages(chat, len(handles), timeout=30)
    await stop(first)
    await stop(second)
    for chat in (ADMIN, ENV_ADMIN):
        assert handles_told(fake_telegram, chat) == dict.fromkeys(handles, 1)
    assert sorted([told(first), told(second)]) == [0, len(handles)]
    assert await pending(redis) == 0
