"""The ingress entry point: long polling into an aiogram dispatcher.

Handlers run one at a time (``handle_as_tasks=False``) so that the offset
Telegram sees confirmed only moves past an update after it was handled:
an update is received once it is in Redis, or answered.
"""

from __future__ import annotations

from aiogram import Dispatcher

from services.ingress import chat
from services.ingress.auth import AuthMiddleware
from services.ingress.intake import Intake
from services.ingress.settings import IngressSettings
from shared.api import ApiClient
from shared.connections import redis_client, telegram_bot
from shared.log import get_logger
from shared.texts import RU

log = get_logger(__name__)


def build_dispatcher(api: ApiClient, intake: Intake) -> Dispatcher:
    dp = Dispatcher(intake=intake, texts=RU)
    dp.update.outer_middleware(AuthMiddleware(api, RU))
    dp.include_router(chat.router)
    return dp


async def serve(settings: IngressSettings) -> int:
    redis = redis_client(settings)
    bot = telegram_bot(settings)
    async with ApiClient(
        settings.api_url, settings.internal_api_key, timeout=settings.api_timeout_s
    ) as api:
        dp = build_dispatcher(api, Intake(redis))
        log.info("ingress_started", mode="polling")
        try:
            await dp.start_polling(
                bot,
                handle_as_tasks=False,
                polling_timeout=settings.polling_timeout_s,
                allowed_updates=dp.resolve_used_update_types(),
            )
        finally:
            await bot.session.close()
            await redis.aclose()
    log.info("ingress_stopped")
    return 0
