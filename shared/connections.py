"""Connections to Redis and Telegram, built the same way in every process.

Sending goes through ``shared.telegram.TelegramClient.from_settings(settings)``
(no aiogram). :func:`telegram_bot` is for the ingress, which polls with
aiogram: it imports aiogram only when called, so that importing this module
never loads aiogram (about 130 MB) into the relay or the notifier.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from redis.asyncio.connection import parse_url
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool

from shared.settings import BaseSettings, sentinel_addresses

if TYPE_CHECKING:
    from aiogram import Bot

# A blocking XREAD/XREADGROUP must outlive its BLOCK time; redis-py 8
# defaults socket_timeout to 5 s (DESIGN-NOTES), so blocking clients get more.
BLOCKING_SOCKET_TIMEOUT_S = 30.0
POOL_SIZE = 100
"""Connections per client: redis-py 8's default, kept."""
POOL_WAIT_S = 5.0
"""How long a command waits for a free connection when all are busy. redis-py's
plain pool raises ``MaxConnectionsError`` at once instead, so a burst of
per-user tasks past the pool size would fail commands that a moment's wait saves."""


SENTINEL_TIMEOUT_S = 2.0
"""Connect and reply timeout of a question to one Sentinel: a dead one is skipped for
the next soon enough that finding the new master stays within seconds."""


class BlockingSentinelConnectionPool(SentinelConnectionPool, aioredis.BlockingConnectionPool):
    """redis-py's Sentinel-managed pool, waiting for a free connection like ours do.

    ``SentinelConnectionPool`` asks the Sentinels for the master before each new
    connection and drops idle ones when the master moved; ``BlockingConnectionPool``
    (next in the MRO) makes a command wait ``timeout`` for a connection when all
    ``max_connections`` are busy instead of failing at once. Closing it closes the
    Sentinel clients too: each ``redis_client`` has a ``Sentinel`` of its own.
    """

    async def aclose(self) -> None:
        try:
            await super().aclose()
        finally:
            await self.sentinel_manager.aclose()


def redis_client(settings: BaseSettings, *, blocking: bool = False) -> aioredis.Redis:
    """A client for ``REDIS_URL``; ``blocking=True`` for one that runs long BLOCK reads.

    With ``REDIS_SENTINELS`` set, the client reaches the master the Sentinels name
    (``REDIS_SENTINEL_MASTER``), found again after each connection error, so a
    failover needs no restart: the caller's retry on ``RedisError`` reconnects to
    the new master. ``REDIS_URL`` then gives the db number, user, password and
    options (``rediss://``: TLS); its host and port are not used.
    """
    options: dict[str, Any] = {
        "max_connections": POOL_SIZE,
        "timeout": POOL_WAIT_S,
        "socket_timeout": BLOCKING_SOCKET_TIMEOUT_S if blocking else 5.0,
        "socket_connect_timeout": 5.0,
        "health_check_interval": 30,
        "retry_on_timeout": False,
    }
    if not settings.redis_sentinels:
        pool = aioredis.BlockingConnectionPool.from_url(settings.redis_url, **options)
        return aioredis.Redis.from_pool(pool)
    url_options: dict[str, Any] = dict(parse_url(settings.redis_url))
    for unused in ("host", "port", "path"):
        url_options.pop(unused, None)
    if url_options.pop("connection_class", None) is not None:
        url_options["ssl"] = settings.redis_url.startswith("rediss://")
    password = settings.redis_sentinel_password
    sentinel = Sentinel(
        sentinel_addresses(settings.redis_sentinels),
        sentinel_kwargs={
            "socket_timeout": SENTINEL_TIMEOUT_S,
            "socket_connect_timeout": SENTINEL_TIMEOUT_S,
            "password": password.reveal() if password is not None else None,
        },
    )
    # The URL's own options win, as they do with from_url above.
    client: aioredis.Redis = sentinel.master_for(
        settings.redis_sentinel_master,
        connection_pool_class=BlockingSentinelConnectionPool,
        **{**options, **url_options},
    )
    return client


def telegram_bot(settings: BaseSettings) -> Bot:
    """An aiogram ``Bot`` speaking to ``TELEGRAM_API_URL`` (Telegram, or a stand-in).

    For the ingress's polling only; aiogram is imported on the first call.
    """
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    return Bot(settings.telegram_bot_token.reveal(), session=session)


def text(value: object) -> str:
    """A Redis reply item as text: our clients do not decode replies, so they are bytes."""
    if isinstance(value, bytes):
        return value.decode()
    return str(value)


def texts(values: Iterable[object] | None) -> list[str]:
    """Each item of a Redis array reply as text (none for a nil reply)."""
    return [text(value) for value in values or ()]
