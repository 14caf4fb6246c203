"""Partition leases: which relay owns which partition, renewed every tick.

One script per tick (``lease_tick.lua``), atomic and on Redis' clock:
heartbeat in ``bot:relays``, the fair share of the live relays, renew this
relay's leases, take free ones up to the share. Giving a partition up is
the caller's: it drains first, then :meth:`Leases.release`
(compare-and-delete). The identity is ``{RELAY_NAME}#{random}``, so a
restarted process never mistakes its dead predecessor's leases for its own.
See the relay's "Partitions and leases" section of ``docs/ARCHITECTURE.md``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import redis.asyncio as aioredis

from services.relay import keyspace
from shared.connections import texts
from shared.scripts import register


@dataclass(frozen=True)
class LeaseView:
    """One tick's answer."""

    target: int
    """How many partitions this relay should own."""
    live: int
    """Live relays, this one included."""
    renewed: frozenset[int]
    """Leases this relay held and renewed."""
    acquired: frozenset[int]
    """Leases this relay took in this tick (free before)."""

    @property
    def held(self) -> frozenset[int]:
        return self.renewed | self.acquired


class Leases:
    """The lease scripts for one relay process; see the module docstring."""

    def __init__(
        self,
        redis: aioredis.Redis,
        identity: str,
        *,
        partitions: int,
        ttl_ms: int,
        safety_ms: int = 1000,
    ) -> None:
        if ttl_ms <= safety_ms:
            raise ValueError("the lease TTL must be longer than its safety margin")
        self.identity = identity
        self.partitions = partitions
        self.ttl_ms = ttl_ms
        self._safety_s = safety_ms / 1000
        self._redis = redis
        self._tick = register(redis, __file__, "lease_tick.lua")
        self._release = register(redis, __file__, "lease_release.lua")
        self.valid_until = 0.0
        """``time.monotonic()`` until which the leases renewed last are surely still ours.

        Measured from when the renewing call was *sent*, minus a safety
        margin: a reply that came back late proves less than it seems.
        """

    async def tick(self, *, acquire: bool = True) -> LeaseView:
        """Renew what this relay holds; with ``acquire``, also heartbeat and take its share."""
        sent_at = time.monotonic()
        reply = await self._tick(
            keys=[keyspace.RELAYS],
            args=[
                self.identity,
                self.partitions,
                self.ttl_ms,
                keyspace.LEASE_PREFIX,
                "1" if acquire else "0",
            ],
        )
        self.valid_until = sent_at + self.ttl_ms / 1000 - self._safety_s
        target, live, renewed, acquired = reply
        return LeaseView(int(target), int(live), _partitions(renewed), _partitions(acquired))

    def valid(self) -> bool:
        return time.monotonic() < self.valid_until

    async def release(self, partition: int) -> bool:
        """Give ``partition`` up if this relay still holds it; whether it did."""
        released = await self._release(keys=[keyspace.lease(partition)], args=[self.identity])
        return bool(released)

    async def leave(self) -> None:
        """Stop counting as live at once (a clean stop), so the others rebalance now."""
        await self._redis.zrem(keyspace.RELAYS, self.identity)


def _partitions(values: Iterable[object]) -> frozenset[int]:
    return frozenset(int(value) for value in texts(values))
