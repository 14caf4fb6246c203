"""Connections to Redis and Telegram, built the same way in every process.

Sending goes through ``shared.telegram.TelegramClient.from_settings(settings)``
(no aiogram). :func:`telegram_bot` is for the ingress, which polls with
aiogram: it imports aiogram only when called, so that importing this module
never loads aiogram (about 130 MB) into the relay or the notifier.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import redis.asyncio as aioredis

from shared.settings import BaseSettings

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


def redis_client(settings: BaseSettings, *, blocking: bool = False) -> aioredis.Redis:
    """A client for ``REDIS_URL``; ``blocking=True`` for one that runs long BLOCK reads."""
    pool = aioredis.BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=POOL_SIZE,
        timeout=POOL_WAIT_S,
        socket_timeout=BLOCKING_SOCKET_TIMEOUT_S if blocking else 5.0,
        socket_connect_timeout=5.0,
        health_check_interval=30,
        retry_on_timeout=False,
    )
    return aioredis.Redis.from_pool(pool)


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
