"""Who the admins are: API users with ``is_admin`` plus ``ADMIN_TELEGRAM_IDS``.

The API's list is cached for ``ttl_s``. When the API cannot be asked, the
last list it gave is used; before it has ever answered, only the
environment's admins are known and ``Admins.complete`` is false, so the
caller can deliver to those at once and retry the rest later.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import msgspec

from shared.api import ApiClient, ApiError
from shared.log import get_logger

log = get_logger(__name__)


class AdminList(msgspec.Struct, frozen=True):
    telegram_ids: tuple[int, ...]
    complete: bool
    """False while the API's admins are unknown (it has not answered yet)."""


class Admins:
    def __init__(
        self,
        api: ApiClient,
        from_env: tuple[int, ...],
        *,
        ttl_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api = api
        self._from_env = frozenset(from_env)
        self._ttl_s = ttl_s
        self._clock = clock
        self._from_api: frozenset[int] | None = None
        self._fetched_at = float("-inf")

    async def current(self) -> AdminList:
        if self._clock() - self._fetched_at >= self._ttl_s:
            await self._refresh()
        known = self._from_env | (self._from_api or frozenset())
        return AdminList(tuple(sorted(known)), complete=self._from_api is not None)

    async def _refresh(self) -> None:
        try:
            users = await self._api.list_users()
        except ApiError as exc:
            log.warning(
                "admins_lookup_failed",
                error=type(exc).__name__,
                using_last_known=self._from_api is not None,
            )
            return
        self._from_api = frozenset(u.telegram_id for u in users if u.is_admin)
        self._fetched_at = self._clock()
