"""Consumers gone for good leave the group; one that holds a result, or is us, stays.

A day of idleness cannot be waited for, so the threshold is a parameter
(``NOTIFIER_STALE_CONSUMER_S`` for the process) and the tests wait, by
polling ``XINFO CONSUMERS``, until their consumers are idle past a short one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from services.notifier.consumers import ConsumerPruner
from shared import keys
from shared.connections import text
from shared.schemas import encode_entry
from tests.plugins.processes import StartService
from tests.services.notifier.test_notifier import start_notifier, success

STREAM, GROUP, ME = keys.PROVISIONER_RESULTS, keys.NOTIFIER_GROUP, "notifier-me"
IDLE_S = 0.1


async def consumers(redis: aioredis.Redis) -> dict[str, dict[str, Any]]:
    """The group's consumers by name: ``pending`` and ``idle`` (ms)."""
    rows: list[dict[Any, Any]] = await redis.xinfo_consumers(STREAM, GROUP)
    return {text(row["name"]): row for row in rows}


async def wait_until(
    redis: aioredis.Redis, condition: str, check: Callable[[dict[str, Any]], bool]
) -> None:
    """Poll the group's consumers until ``check(consumers)`` holds, like ``wait_for_event``."""
    deadline = asyncio.get_running_loop().time() + 10
    while not check(found := await consumers(redis)):
        assert asyncio.get_running_loop().time() < deadline, f"never {condition}: {found}"
        await asyncio.sleep(0.02)


async def idle_past(redis: aioredis.Redis, names: list[str], idle_s: float) -> None:
    await wait_until(
        redis,
        f"{names} idle past {idle_s} s",
        lambda found: all(found[name]["idle"] > idle_s * 1000 for name in names),
    )


async def join(redis: aioredis.Redis, *, empty: list[str], holding: list[str]) -> None:
    """The group, with consumers holding nothing and consumers holding one result each."""
    await redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    for name in empty:
        await redis.xgroup_createconsumer(STREAM, GROUP, name)
    for n, name in enumerate(holding):
        await redis.xadd(STREAM, encode_entry(success(f"srv-{n}")))  # type: ignore[arg-type]
        await redis.xreadgroup(GROUP, name, {STREAM: ">"}, count=1)


def pruner(redis: aioredis.Redis, idle_s: float = IDLE_S) -> ConsumerPruner:
    return ConsumerPruner(redis, stream=STREAM, group=GROUP, keep=ME, idle_s=idle_s)


async def test_an_idle_consumer_holding_nothing_is_removed_and_one_holding_a_result_kept(
    redis: aioredis.Redis,
) -> None:
    await join(redis, empty=[ME, "notifier-gone"], holding=["notifier-holding"])
    await idle_past(redis, [ME, "notifier-gone", "notifier-holding"], IDLE_S)

    assert await pruner(redis).prune() == ["notifier-gone"]

    assert set(await consumers(redis)) == {ME, "notifier-holding"}
    assert (await consumers(redis))["notifier-holding"]["pending"] == 1


async def test_a_consumer_idle_less_than_the_threshold_is_kept(redis: aioredis.Redis) -> None:
    await join(redis, empty=["notifier-recent"], holding=[])

    assert await pruner(redis, idle_s=3600).prune() == []

    assert set(await consumers(redis)) == {"notifier-recent"}


@pytest.fixture
async def pruning(redis: aioredis.Redis) -> AsyncIterator[None]:
    """A pruner passing every 50 ms, as the notifier's does every hour."""
    stop = asyncio.Event()
    task = asyncio.create_task(pruner(redis).run(stop, every_s=0.05))
    yield
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_consumers_that_go_stale_later_are_removed_by_a_later_pass(
    redis: aioredis.Redis, pruning: None
) -> None:
    await join(redis, empty=["notifier-first"], holding=[])
    await wait_until(redis, "removed the first", lambda found: "notifier-first" not in found)

    await redis.xgroup_createconsumer(STREAM, GROUP, "notifier-later")

    await wait_until(redis, "removed the later", lambda found: "notifier-later" not in found)


async def test_a_notifier_removes_stale_consumers_of_its_group_when_it_starts(
    redis: aioredis.Redis, start_service: StartService
) -> None:
    await join(redis, empty=["notifier-gone"], holding=["notifier-holding"])
    await idle_past(redis, ["notifier-gone", "notifier-holding"], 0.2)

    # Retries slow: the held result stays held while the notifier starts.
    notifier = start_notifier(
        start_service, NOTIFIER_STALE_CONSUMER_S="0.2", NOTIFIER_RETRY_AFTER_S="60"
    )

    removed = await notifier.wait_for_event("stale_consumers_removed", timeout=30)
    assert removed["consumers"] == ["notifier-gone"]
    assert "notifier-holding" in await consumers(redis)
