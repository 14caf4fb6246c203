"""Access requests in the ingress's wiring: the desk (None while ``ACCESS_REQUESTS`` is off)
and the routers it brings (none while off, so presses are refused like any stale button)."""

from __future__ import annotations

import redis.asyncio as aioredis
from aiogram import Router

from services.ingress import access, access_admin
from services.ingress.access import AccessDesk
from services.ingress.access_store import CLAIM_S, AccessStore
from services.ingress.directory import UserDirectory
from services.ingress.settings import IngressSettings


def access_desk(
    settings: IngressSettings, redis: aioredis.Redis, directory: UserDirectory
) -> AccessDesk | None:
    if not settings.access_requests:
        return None
    store = AccessStore(
        redis,
        ttl_s=settings.access_request_ttl_s,
        cooldown_s=settings.access_request_cooldown_s,
        # Outlasts an approval's API calls (a POST, and a GET after a 409), each timed out.
        claim_s=max(CLAIM_S, 4 * settings.api_timeout_s),
    )
    return AccessDesk(
        store, directory, settings.admin_telegram_ids, default_language=settings.default_language
    )


def access_routers(desk: AccessDesk | None) -> list[Router]:
    """The stranger's button, then the admins' cards; to go before ``callbacks``."""
    return [] if desk is None else [access.router(), access_admin.router()]
