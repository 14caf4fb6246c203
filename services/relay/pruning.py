"""Which idle users' sessions expired: the prune of :mod:`services.relay.replies`, fenced."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import redis.asyncio as aioredis

from services.relay import keyspace
from shared import keys
from shared.connections import text
from shared.scripts import register

CHUNK: Final = 500
"""Users per script call: one call stays short, whatever the partition's size."""


class ExpiredSessions:
    """``prune.lua`` for one relay identity: drop users whose ``session:{u}`` expired."""

    def __init__(self, redis: aioredis.Redis, identity: str) -> None:
        self._identity = identity
        self._script = register(redis, __file__, "prune.lua")

    async def drop(self, partition: int, user_ids: Iterable[int]) -> list[int]:
        """Of ``user_ids``, those with no session: taken out of ``bot:active:{p}`` (cursor kept)."""
        gone: list[int] = []
        for chunk in _chunks(sorted(user_ids), CHUNK):
            removed = await self._script(
                keys=[
                    keyspace.lease(partition),
                    keyspace.active(partition),
                    keyspace.typing(partition),
                ],
                args=[self._identity, keys.session(0)[:-1], *chunk],
            )
            gone.extend(int(text(value)) for value in removed or [])
        return gone


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
