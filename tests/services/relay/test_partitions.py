"""Partition leases: shared evenly, handed over on a clean stop within a tick, and a
relay whose lease was taken stops acting for that partition at once.
"""

from __future__ import annotations

import time

import redis.asyncio as aioredis

from services.fakes.telegram import FakeTelegram
from shared import keys
from tests.services.relay.conftest import StartRelay, wait_until


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
