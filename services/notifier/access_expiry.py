"""Expiry of access requests nobody decided within ``ACCESS_REQUEST_TTL_S``.

Every notifier sweeps ``bot:access:open`` (``access_expire.lua``, atomic, so
any number may sweep at once): a request made more than the TTL ago and
still ``pending`` becomes ``expired``, its stranger's open-request key goes,
it leaves the open set and the queue, and an ``AccessOutcome`` (decision
``expired``) and an audit entry are appended in the same script. The
outcome path then edits its cards to "⌛ Запрос истёк" and tells the
stranger. The sweep runs when the oldest open request falls due, and at
least every ``min(60 s, TTL)``, so a request is expired at most that late.
"""

from __future__ import annotations

import asyncio
from typing import Final

from redis.exceptions import RedisError

from services.notifier.access_store import SCAN, AccessStore
from shared.log import get_logger
from shared.stopping import pause

log = get_logger(__name__)

MAX_SLEEP_S: Final = 60.0
MIN_SLEEP_S: Final = 0.05
ERROR_PAUSE_S: Final = 5.0


class AccessExpiry:
    """Sweeps expired requests until stopped; see the module docstring."""

    def __init__(self, store: AccessStore, ttl_s: float) -> None:
        self._store = store
        self._ttl_s = ttl_s

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                wait_s = await self.sweep()
            except RedisError as exc:
                log.warning("access_expiry_redis_error", error=type(exc).__name__)
                wait_s = ERROR_PAUSE_S
            except Exception:
                # A bug must not stop the notifier's other work; the next sweep tries again.
                log.exception("access_expiry_failed")
                wait_s = ERROR_PAUSE_S
            await pause(stop, wait_s)

    async def sweep(self) -> float:
        """Expire what is due now; how long until the next sweep."""
        count, next_due_s = await self._store.expire(self._ttl_s)
        if count:
            log.info("access_requests_expired", count=count)
        if count >= SCAN:
            return 0  # more may be due
        longest = min(MAX_SLEEP_S, self._ttl_s)
        if next_due_s is None:
            return longest
        return max(MIN_SLEEP_S, min(longest, next_due_s))
