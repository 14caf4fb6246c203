"""Requests the users stopped: their snapshots and final replies are hidden, not shown.

The record is in Redis (``bot:cancelled:{user}``, with the partition's set
of such users, ``bot:cancelling:{p}``), written by the ``/stop`` and
``/new`` scripts; a final reply removes its request. This is the relay's
copy, for the owned partitions only, so a reply of a user with nothing
stopped (nearly all of them) costs no Redis call. The owner of a partition
is the one that both handles its users' ``/stop`` and delivers their
replies, so its copy is current; a relay taking the partition over loads it.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from services.relay import keyspace
from services.relay.contracts import POReply
from shared import keys
from shared.connections import text, texts


class Cancellations:
    """The owned partitions' stopped requests, per user; see the module docstring."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis
        self._by_user: dict[int, set[str]] = {}
        self._by_partition: dict[int, set[int]] = {}

    async def start_partition(self, partition: int) -> None:
        members: Any = await self._redis.smembers(keyspace.cancelling(partition))
        user_ids = sorted(int(member) for member in members)
        if not user_ids:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for user_id in user_ids:
                pipe.smembers(keys.cancelled(user_id))
            requests: list[Any] = await pipe.execute()
        for user_id, stopped in zip(user_ids, requests, strict=True):
            if stopped:
                self.add(partition, user_id, texts(stopped))

    async def stop_partition(self, partition: int, *, drain: bool) -> None:
        for user_id in self._by_partition.pop(partition, set()):
            self._by_user.pop(user_id, None)

    async def reload(self, partition: int, user_id: int) -> None:
        """The user's record as Redis has it now (a script changed it wholesale)."""
        stopped: Any = await self._redis.smembers(keys.cancelled(user_id))
        self._by_user.pop(user_id, None)
        if stopped:
            self.add(partition, user_id, texts(stopped))

    def add(self, partition: int, user_id: int, request_ids: list[str]) -> None:
        self._by_user.setdefault(user_id, set()).update(request_ids)
        self._by_partition.setdefault(partition, set()).add(user_id)

    async def hidden(self, user_id: int, reply: POReply) -> str | None:
        """The stopped request ``reply`` belongs to, or None: it is shown.

        A reply that names no request answers the oldest pending one (a PO
        that names none answers in order).
        """
        stopped = self._by_user.get(user_id)
        if not stopped:
            return None
        request = reply.request_id
        if not request:
            oldest: Any = await self._redis.zrange(keys.pending(user_id), 0, 0)
            request = text(oldest[0]) if oldest else ""
        return request if request in stopped else None

    def answered(self, user_id: int, request_id: str) -> None:
        """The final reply of ``request_id`` was handled: nothing more of it will come."""
        stopped = self._by_user.get(user_id)
        if stopped is not None:
            stopped.discard(request_id)
            if not stopped:
                del self._by_user[user_id]
