"""Removing consumers of the group that are gone for good.

Each notifier run joins the group under a name of its own (the default has
the pid in it), and Redis keeps every name ever used. A consumer idle for a
day that holds nothing is a run long dead: it is removed at start and every
hour. One holding a pending entry is kept (removing it would drop the entry
from the group); another replica claims the entry, and the consumer, then
empty, goes the day after. A live notifier reads every few seconds, so it is
never that idle.
"""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from shared.connections import texts
from shared.log import get_logger
from shared.scripts import register
from shared.stopping import pause

log = get_logger(__name__)

PRUNE_EVERY_S = 3600.0


class ConsumerPruner:
    """Removes the consumers of ``group`` idle over ``idle_s`` and holding nothing, but ``keep``."""

    def __init__(
        self, redis: aioredis.Redis, *, stream: str, group: str, keep: str, idle_s: float
    ) -> None:
        self._redis = redis
        self._stream = stream
        self._group = group
        self._keep = keep
        self._idle_ms = int(idle_s * 1000)
        self._script = register(redis, __file__, "prune_consumers.lua")

    async def prune(self) -> list[str]:
        """One pass; the names removed."""
        removed = await self._script(
            keys=[self._stream], args=[self._group, self._keep, self._idle_ms]
        )
        names = texts(removed)
        if names:
            log.info("stale_consumers_removed", consumers=names, idle_over_s=self._idle_ms / 1000)
        return names

    async def run(self, stop: asyncio.Event, every_s: float = PRUNE_EVERY_S) -> None:
        """A pass now and every ``every_s`` until ``stop``; a failed pass waits for the next."""
        while not stop.is_set():
            try:
                await self.prune()
            except RedisError as exc:
                # No group yet (a first start) or Redis away: nothing to do before the next pass.
                log.info("stale_consumers_unchecked", error=type(exc).__name__, detail=str(exc))
            await pause(stop, every_s)
