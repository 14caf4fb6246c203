"""At most once per key: which parts of a keyed message Telegram already accepted.

Each part's message id goes to ``bot:sent:{key}`` (a hash, part index ->
message id) as soon as Telegram accepts it, so sending the key again, from
this process or another one after a crash, resumes at the first unsent
part. A part Redis could not record is kept in this process until Redis
takes it, so this process never sends it twice.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError

SENT_PREFIX: Final = "bot:sent:"
SENT_TTL_S: Final = 24 * 60 * 60
"""How long a sent key is remembered: longer than any stream redelivery."""
UNRECORDED_MAX: Final = 10_000
"""Keys whose accepted parts a process keeps while Redis cannot take them."""


class SentLog:
    """Which parts of a keyed message Telegram accepted, shared by every process.

    Parts whose record Redis did not take (:meth:`remember`) are kept in this
    process, up to ``UNRECORDED_MAX`` keys for ``ttl_s``, merged into what
    :meth:`load` returns and written to Redis by the next :meth:`load` that
    can.
    """

    def __init__(self, redis: aioredis.Redis, ttl_s: float = SENT_TTL_S) -> None:
        self.redis = redis
        self.ttl_s = ttl_s
        self.ttl_ms = int(ttl_s * 1000)
        self._unrecorded: dict[str, tuple[float, dict[int, int]]] = {}

    @staticmethod
    def redis_key(key: str) -> str:
        return f"{SENT_PREFIX}{key}"

    async def load(self, key: str) -> dict[int, int]:
        """Part index -> message id of every part already sent under ``key``."""
        raw: dict[bytes | str, bytes | str] = await self.redis.hgetall(self.redis_key(key))
        done = {int(index): int(message_id) for index, message_id in raw.items()}
        kept = self.unrecorded(key)
        if not kept:
            return done
        try:
            await self._write(key, kept)
        except RedisError:
            pass  # still kept here; the next load tries again
        else:
            self._unrecorded.pop(key, None)
        return {**kept, **done}

    async def record(self, key: str, index: int, message_id: int) -> None:
        await self._write(key, {index: message_id})

    def remember(self, key: str, index: int, message_id: int) -> None:
        """Keep, in this process, a part Telegram accepted that Redis could not record."""
        parts = self.unrecorded(key)
        parts[index] = message_id
        self._unrecorded.pop(key, None)  # newest last: the oldest are dropped first
        self._unrecorded[key] = (time.monotonic() + self.ttl_s, parts)
        while len(self._unrecorded) > UNRECORDED_MAX:
            self._unrecorded.pop(next(iter(self._unrecorded)))

    def unrecorded(self, key: str) -> dict[int, int]:
        """The parts of ``key`` kept in this process only (a copy)."""
        entry = self._unrecorded.get(key)
        if entry is None:
            return {}
        expires, parts = entry
        if expires <= time.monotonic():
            del self._unrecorded[key]
            return {}
        return dict(parts)

    async def _write(self, key: str, parts: Mapping[int, int]) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.redis_key(key), mapping={str(i): m for i, m in parts.items()})
            pipe.pexpire(self.redis_key(key), self.ttl_ms)
            await pipe.execute()
