"""Partition leases: shared evenly, handed over on a clean stop within a tick, and a
relay whose lease was taken stops acting for that partition at once.
"""

from __future__ import annotations

import asyncio
import time

import redis.asyncio as aioredis

from services.fakes.telegram import Failure, FakeTelegram
from services.fakes.workers import FakeWorkerManager
from shared import keys
from tests.services.relay.conftest import StartRelay, chat_of, wait_until, write_message


def shares(*owned: frozenset[int]) -> list[int]:
    return sorted(len(o) for o in owned)


async def test_relays_share_the_partitions_evenly_and_take_over_a_stopped_ones_at_once(
    fake_telegram: FakeTelegram, start_relay: StartRelay
) -> None:
    relays = [await start_relay(f"relay-{n}") for n in "abc"]

    def owned() -> list[frozenset[int]]:
        return [r.relay.coordinator.owned for r in relays]

    await wait_until(lambda: shares(*owned()) == [5, 5, 6], timeout=15)
    assert frozenset().union(*owned()) == frozenset(range(keys.PARTITIONS))

    stopped_at = time.monotonic()
    await relays[0].stopped()
    survivors = relays[1:]
    await wait_until(
        lambda: shares(*(r.relay.coordinator.owned for r in survivors)) == [8, 8], timeout=10
    )
    # A clean stop releases the leases and leaves: no waiting for a TTL.
    assert time.monotonic() - stopped_at < 4.0


async def test_a_relay_stops_acting_for_a_partition_whose_lease_another_took(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_relay: StartRelay
) -> None:
    running = await start_relay()
    coordinator = running.relay.coordinator
    await wait_until(lambda: len(coordinator.owned) == keys.PARTITIONS)

    # As if this relay had stalled past the TTL and another had taken the lease.
    await redis.set("bot:lease:3", "relay-other#1", px=60_000)

    await wait_until(lambda: 3 not in coordinator.owned, timeout=5)
    assert not running.relay.owns(3)
    assert await redis.get("bot:lease:3") == b"relay-other#1"


async def test_a_stopping_relay_hands_over_each_partition_while_another_still_drains(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    user = 11
    first = await start_relay("relay-a")
    second = await start_relay("relay-b")
    await wait_until(lambda: shares(first.relay.coordinator.owned) == [8], timeout=15)
    busy = keys.partition_of(user)
    if busy not in first.relay.coordinator.owned:
        first, second = second, first
    # A reply of the stopping relay's user takes Telegram 6 s: its partition drains that long.
    fake_telegram.fail_next("sendMessage", Failure.slow(6.0), chat_id=chat_of(user))
    await write_message(redis, user, "slow")
    await wait_until(lambda: fake_telegram.failures_left == 0)  # polled: no event for it

    stopping = asyncio.create_task(first.stopped(timeout=20))
    others = frozenset(range(keys.PARTITIONS)) - {busy}
    await wait_until(lambda: second.relay.coordinator.owned >= others, timeout=5)

    assert not fake_telegram.calls_to("sendMessage")  # the slow send is still under way
    await stopping
    await wait_until(lambda: busy in second.relay.coordinator.owned, timeout=5)
