"""Who the admins are: API users with ``is_admin`` plus ``ADMIN_TELEGRAM_IDS``."""

from __future__ import annotations

from shared.api import ApiClient, ApiError
from shared.log import get_logger

log = get_logger(__name__)


class Admins:
    def __init__(self, api: ApiClient, from_env: tuple[int, ...]) -> None:
        self._api = api
        self._from_env = from_env
        self._last_known: set[int] = set()

    async def telegram_ids(self) -> list[int]:
        """Every admin, without duplicates; the last known API list when the API is down."""
        try:
            users = await self._api.list_users()
            self._last_known = {u.telegram_id for u in users if u.is_admin}
        except ApiError as exc:
            log.warning("admins_api_unavailable", error=type(exc).__name__)
        return sorted(self._last_known | set(self._from_env))
