"""Connections to Redis and Telegram, built the same way in every process."""

from __future__ import annotations

import redis.asyncio as aioredis
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from shared.settings import BaseSettings

# A blocking XREAD/XREADGROUP must outlive its BLOCK time; redis-py 8
# defaults socket_timeout to 5 s (DESIGN-NOTES), so blocking clients get more.
BLOCKING_SOCKET_TIMEOUT_S = 30.0


def redis_client(settings: BaseSettings, *, blocking: bool = False) -> aioredis.Redis:
    """A client for ``REDIS_URL``; ``blocking=True`` for one that runs long BLOCK reads."""
    return aioredis.Redis.from_url(
        settings.redis_url,
        socket_timeout=BLOCKING_SOCKET_TIMEOUT_S if blocking else 5.0,
        socket_connect_timeout=5.0,
        health_check_interval=30,
        retry_on_timeout=False,
    )


def telegram_bot(settings: BaseSettings) -> Bot:
    """An aiogram ``Bot`` speaking to ``TELEGRAM_API_URL`` (Telegram, or a stand-in)."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    return Bot(settings.telegram_bot_token.reveal(), session=session)
