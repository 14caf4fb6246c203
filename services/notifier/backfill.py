"""How far back the notifier looks: ``NOTIFIER_BACKFILL_S``, by Redis's clock.

A new group starts that far back, so results published while the first
notifiers were starting are still told. A result older than that when the
group first reads it (the platform made the group at ``0``, or every notifier
was down that long) is acknowledged unsent: admins are never flooded with
history. One that was read in time and is pending (its handling failed, or
its notifier died) is always retried. Stream ids are ``<ms>-<seq>`` of
Redis's clock, so ages are measured with ``TIME``, never the local clock.
See docs/ARCHITECTURE.md (Notifier).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import redis.asyncio as aioredis

from shared.log import get_logger

log = get_logger(__name__)

_MAX_SEQ: Final = 2**64 - 1


class Backfill:
    """The group's start and the too-old test for one window, in Redis's time."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        window_s: float,
        count: Callable[[int], None],
        event: str = "result_too_old_skipped",
    ) -> None:
        """``count`` and the log line ``event`` note each read's entries found too old."""
        self._redis = redis
        self._window_ms = int(window_s * 1000)
        self._count = count
        self._event = event

    async def start_id(self) -> str:
        """The id a new group starts after: the last one before the window."""
        cutoff_ms = await self._cutoff_ms()
        # A group delivers the ids above its start: this one keeps every id of
        # the cutoff's millisecond, as ``too_old`` does.
        return f"{cutoff_ms - 1}-{_MAX_SEQ}" if cutoff_ms > 0 else "0"

    async def too_old(self, entry_ids: list[str]) -> list[str]:
        """Those of a fresh read's ``entry_ids`` published before the window; counted, logged."""
        cutoff_ms = await self._cutoff_ms()
        old = [entry_id for entry_id in entry_ids if entry_ms(entry_id) < cutoff_ms]
        if old:
            self._count(len(old))
            log.warning(
                self._event,
                count=len(old),
                first_entry_id=old[0],
                last_entry_id=old[-1],
                backfill_s=self._window_ms / 1000,
            )
        return old

    async def _cutoff_ms(self) -> int:
        seconds, microseconds = await self._redis.time()
        return int(seconds) * 1000 + int(microseconds) // 1000 - self._window_ms


def entry_ms(entry_id: str) -> int:
    """When Redis created the entry ``entry_id`` (``<ms>-<seq>``), in ms since the epoch."""
    return int(entry_id.partition("-")[0])
