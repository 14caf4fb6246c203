"""Keeping this notifier's claims fresh, so no other replica takes a result it still holds.

Another notifier takes a result idle for ``claim_idle_ms`` (``XAUTOCLAIM``),
and one handling can last longer: a long 429 pause, a batch queued behind
one admin's chat. Both would then send, each having checked the send-once
key before the other recorded it. So, every third of ``claim_idle_ms``, the
results this consumer holds are claimed again (``XCLAIM … JUSTID``: idle back
to 0, delivery count unchanged). A result whose handling failed is not held:
it ages and is retried through ``XAUTOCLAIM`` as before, by any replica.
See docs/ARCHITECTURE.md (Notifier).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError
from redis.typing import StreamIdT

from shared.log import get_logger
from shared.stopping import pause

T = TypeVar("T")
Handler = Callable[[str, T], Awaitable[None]]

log = get_logger(__name__)

_PAGE = 100


class ClaimKeeper:
    """Claims again, every ``every_s``, what ``consumer`` holds; see the module docstring."""

    def __init__(
        self, redis: aioredis.Redis, *, stream: str, group: str, consumer: str, claim_idle_ms: int
    ) -> None:
        self._redis = redis
        self._stream = stream
        self._group = group
        self._consumer = consumer
        # Two refreshes may fail (a Redis hiccup) before another replica could claim.
        self.every_s = claim_idle_ms / 3 / 1000
        self._failed: dict[str, int | None] = {}
        """Entries whose last handling here failed -> their delivery count then (None: not
        read yet). Delivered again (the count grew), an entry is held again."""

    def holding(self, handler: Handler[T]) -> Handler[T]:
        """``handler``, noting each entry it fails on: that entry is no longer held."""

        async def handle(entry_id: str, item: T) -> None:
            try:
                await handler(entry_id, item)
            except Exception:
                self._failed[entry_id] = None
                raise

        return handle

    async def run(self, stop: asyncio.Event) -> None:
        """Refresh until ``stop``; Redis errors are logged, and the next round tries again."""
        while not stop.is_set():
            try:
                await self.refresh()
            except RedisError as exc:
                # Before the consumer made the group (NOGROUP), nothing is held yet.
                missing = isinstance(exc, ResponseError) and str(exc).startswith("NOGROUP")
                (log.debug if missing else log.warning)(
                    "claims_refresh_failed", error=type(exc).__name__
                )
            await pause(stop, self.every_s)

    async def refresh(self) -> list[str]:
        """Claim again every entry this consumer holds; their ids."""
        # Only failures noted before the scan can be missing from it for good:
        # one noted meanwhile may be of an entry read after the scan passed it.
        failed_before = set(self._failed)
        held: list[str] = []
        pending: set[str] = set()
        async for entry_id, deliveries in self._own_pending():
            pending.add(entry_id)
            if self._is_held(entry_id, deliveries):
                held.append(entry_id)
        for gone in failed_before - pending:  # acknowledged, or taken by another
            self._failed.pop(gone, None)
        if held:
            ids: list[StreamIdT] = [*held]
            await self._redis.xclaim(self._stream, self._group, self._consumer, 0, ids, justid=True)
        return held

    def _is_held(self, entry_id: str, deliveries: int) -> bool:
        if entry_id not in self._failed:
            return True
        failed_at = self._failed[entry_id]
        if failed_at is None:
            self._failed[entry_id] = deliveries
            return False
        if deliveries <= failed_at:
            return False
        del self._failed[entry_id]  # claimed or read again since it failed: in hand
        return True

    async def _own_pending(self) -> AsyncIterator[tuple[str, int]]:
        """(entry id, times delivered) of every entry pending for this consumer."""
        start = "-"
        while True:
            rows: list[dict[str, Any]] = await self._redis.xpending_range(
                self._stream, self._group, start, "+", _PAGE, consumername=self._consumer
            )
            for row in rows:
                yield row["message_id"].decode(), int(row["times_delivered"])
            if len(rows) < _PAGE:
                return
            start = "(" + rows[-1]["message_id"].decode()
