"""``/status``: what the user's assistant is doing, read from Redis, never asking the PO.

The relays keep it there: ``session:{user}`` (the worker), the worker's
``worker:status:{id}`` (the worker-manager's), ``bot:pending:{user}`` (the
messages handed to the PO and not answered yet, with when) and
``bot:cancelled:{user}`` (those the user stopped, no longer awaited).
Durations are measured on Redis's clock, the one the relays wrote with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from shared import keys
from shared.connections import text, texts
from shared.texts import Texts

_STARTING = frozenset({"STARTING", "BUILDING"})
_GONE = frozenset({"STOPPED", "FAILED"})


@dataclass(frozen=True)
class Snapshot:
    worker_id: str | None
    """The session's worker; None: no session."""
    worker_status: str
    """Upper case; '' when the worker-manager wrote none."""
    waiting_since_ms: list[int]
    """When each pending request (not stopped) reached the PO, oldest first."""
    now_ms: int


class ConversationState:
    """Reads one user's :class:`Snapshot`."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis

    async def snapshot(self, user_id: int) -> Snapshot:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(keys.session(user_id))
            pipe.zrange(keys.pending(user_id), 0, -1, withscores=True)
            pipe.smembers(keys.cancelled(user_id))
            pipe.time()
            session, pending, cancelled, now = await pipe.execute()
        stopped = set(texts(cancelled))
        waiting = [int(score) for member, score in pending if text(member) not in stopped]
        worker_id = text(session) if session is not None else None
        status = await self._worker_status(worker_id) if worker_id else ""
        return Snapshot(worker_id, status, waiting, int(now[0]) * 1000 + int(now[1]) // 1000)

    async def _worker_status(self, worker_id: str) -> str:
        key = keys.worker_status(worker_id)
        # A hash with ``status``; an old worker-manager wrote a plain string.
        kind = text(await self._redis.type(key))
        value: Any = None
        if kind == "hash":
            value = await self._redis.hget(key, "status")
        elif kind == "string":
            value = await self._redis.get(key)
        return text(value).strip().upper() if value is not None else ""


def describe(snapshot: Snapshot, texts: Texts) -> str:
    """The answer to ``/status``, in words: state, since when, how many wait, the worker."""
    waiting = snapshot.waiting_since_ms
    if snapshot.worker_id is None and not waiting:
        return texts.status_none
    lines = []
    if snapshot.worker_status in _STARTING:
        lines.append(texts.status_starting)
    elif snapshot.worker_id is not None and snapshot.worker_status in _GONE:
        lines.append(texts.status_failed)
    elif waiting:
        duration = _duration(snapshot.now_ms - waiting[0], texts)
        lines.append(texts.status_working.format(duration=duration))
    else:
        lines.append(texts.status_idle)
    behind = len(waiting) - 1 if snapshot.worker_status not in _STARTING else len(waiting)
    if behind > 0:
        lines.append(texts.status_waiting.format(count=behind))
    if snapshot.worker_id is not None:
        lines.append(texts.status_worker.format(worker_id=snapshot.worker_id))
    return "\n".join(lines)


def _duration(elapsed_ms: int, texts: Texts) -> str:
    minutes = max(0, elapsed_ms) // 60_000
    if minutes < 1:
        return texts.duration_under_minute
    if minutes < 60:
        return texts.duration_minutes.format(minutes=minutes)
    return texts.duration_hours.format(hours=minutes // 60, minutes=minutes % 60)
