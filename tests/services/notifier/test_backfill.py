"""NOTIFIER_BACKFILL_S with real notifier processes: recent results told, history never."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from services.fakes.telegram import FakeTelegram
from shared import keys
from shared.schemas import ProvisionerResult, encode_entry
from tests.plugins.processes import StartService
from tests.processes import ServiceProcess
from tests.services.notifier.test_notifier import (
    ADMIN,
    ENV_ADMIN,
    handles_told,
    pending,
    publish,
    start_notifier,
    stop,
    success,
    told,
)

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS


async def redis_now_ms(redis: aioredis.Redis) -> int:
    seconds, microseconds = await redis.time()
    return int(seconds) * 1000 + int(microseconds) // 1000


async def publish_at(redis: aioredis.Redis, at_ms: int, result: ProvisionerResult) -> None:
    """A result whose entry id says it was published at ``at_ms`` (Redis's clock)."""
    entry_id = f"{at_ms}-*"
    await redis.xadd(keys.PROVISIONER_RESULTS, encode_entry(result), id=entry_id)  # type: ignore[arg-type]


def skipped(process: ServiceProcess) -> int:
    """How many results this process acknowledged unsent as too old (its log)."""
    return sum(e["count"] for e in process.events() if e.get("event") == "result_too_old_skipped")


def created(process: ServiceProcess) -> int:
    """1 if this process made the group, else 0 (its log)."""
    return sum(1 for e in process.events() if e.get("event") == "stream_group_created")


async def test_results_published_before_the_first_notifiers_start_are_told_once(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    now_ms = await redis_now_ms(redis)
    await publish_at(redis, now_ms - 2 * HOUR_MS, success("srv-history"))
    await publish_at(redis, now_ms - 30 * MINUTE_MS, success("srv-half-hour"))
    await publish(redis, success("srv-just-now"))

    # Two notifiers race to make the group: one makes it, neither resets it.
    first = start_notifier(start_service, "notifier-a")
    second = start_notifier(start_service, "notifier-b")
    # Up, signal handlers in place: the first may tell everything before the second
    # even starts, and a SIGTERM before that would kill it (-15), not stop it (0).
    for process in (first, second):
        await process.wait_for_event("notifier_started")

    recent = {"srv-half-hour": 1, "srv-just-now": 1}
    for chat in (ADMIN, ENV_ADMIN):
        await fake_telegram.wait_for_messages(chat, len(recent), timeout=30)
    await publish(redis, success("srv-after"))
    for chat in (ADMIN, ENV_ADMIN):
        await fake_telegram.wait_for_messages(chat, len(recent) + 1, timeout=30)
    await stop(first)
    await stop(second)
    for chat in (ADMIN, ENV_ADMIN):
        assert handles_told(fake_telegram, chat) == {**recent, "srv-after": 1}
    assert told(first) + told(second) == len(recent) + 1
    created = [
        p for p in (first, second) for e in p.events() if e["event"] == "stream_group_created"
    ]
    assert len(created) == 1
    assert await pending(redis) == 0


async def test_with_a_group_made_at_0_results_older_than_the_backfill_are_never_told(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    now_ms = await redis_now_ms(redis)
    history = [f"srv-old-{i}" for i in range(40)]  # more than one read's batch of 16
    for i, handle in enumerate(history):
        await publish_at(redis, now_ms - 3 * HOUR_MS + i, success(handle))
    await publish_at(redis, now_ms - 30 * MINUTE_MS, success("srv-half-hour"))
    await publish(redis, success("srv-just-now"))
    # The platform's own start-up makes every consumer group at 0.
    await redis.xgroup_create(keys.PROVISIONER_RESULTS, keys.NOTIFIER_GROUP, id="0")

    notifier = start_notifier(start_service)

    recent = {"srv-half-hour": 1, "srv-just-now": 1}
    for chat in (ADMIN, ENV_ADMIN):
        await fake_telegram.wait_for_messages(chat, len(recent), timeout=30)
    await stop(notifier)
    for chat in (ADMIN, ENV_ADMIN):
        assert handles_told(fake_telegram, chat) == recent
    assert skipped(notifier) == len(history)
    assert await pending(redis) == 0
    assert created(notifier) == 0


async def test_a_result_pending_past_the_backfill_is_still_told(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    # Read in time by a notifier that died holding it: it was taken on, so it is
    # retried however old it is now, like one waiting out a Telegram outage.
    now_ms = await redis_now_ms(redis)
    await publish_at(redis, now_ms - 2 * HOUR_MS, success("srv-held"))
    await redis.xgroup_create(keys.PROVISIONER_RESULTS, keys.NOTIFIER_GROUP, id="0")
    read: Any = await redis.xreadgroup(
        keys.NOTIFIER_GROUP, "notifier-dead", {keys.PROVISIONER_RESULTS: ">"}
    )
    assert len(read[0][1]) == 1

    notifier = start_notifier(start_service)

    for chat in (ADMIN, ENV_ADMIN):
        await fake_telegram.wait_for_messages(chat, 1, timeout=30)
    await stop(notifier)
    for chat in (ADMIN, ENV_ADMIN):
        assert handles_told(fake_telegram, chat) == {"srv-held": 1}
    assert skipped(notifier) == 0
    assert await pending(redis) == 0
