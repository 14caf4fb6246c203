"""The notifier entry point: provisioner:results -> every admin, until SIGTERM."""

from __future__ import annotations

import asyncio

from aiogram import Bot

from services.notifier.admins import Admins
from services.notifier.messages import describe
from services.notifier.settings import NotifierSettings
from shared import keys
from shared.api import ApiClient
from shared.connections import redis_client, telegram_bot
from shared.delivery import send_text
from shared.log import get_logger
from shared.schemas import ProvisionerResult, decode_entry
from shared.streams import StreamConsumer, install_stop_signals
from shared.texts import RU

log = get_logger(__name__)


class Notifier:
    def __init__(self, bot: Bot, admins: Admins) -> None:
        self._bot = bot
        self._admins = admins

    async def handle(self, entry_id: str, result: ProvisionerResult) -> None:
        text = describe(result, RU)
        for telegram_id in await self._admins.telegram_ids():
            await send_text(self._bot, telegram_id, text)
        log.info("result_notified", entry_id=entry_id, server_handle=result.server_handle)


async def serve(settings: NotifierSettings) -> int:
    stop = asyncio.Event()
    install_stop_signals(stop)
    redis = redis_client(settings, blocking=True)
    bot = telegram_bot(settings)
    async with ApiClient(
        settings.api_url, settings.internal_api_key, timeout=settings.api_timeout_s
    ) as api:
        notifier = Notifier(bot, Admins(api, settings.admin_telegram_ids))
        consumer = StreamConsumer(
            redis,
            stream=keys.PROVISIONER_RESULTS,
            group=keys.NOTIFIER_GROUP,
            consumer=settings.notifier_name,
            decode=lambda fields: decode_entry(fields, ProvisionerResult),
            handler=notifier.handle,
            # A new group starts at the stream's end: a first deployment must not
            # replay the whole history of results to every admin.
            start_id="$",
        )
        log.info("notifier_started", consumer=settings.notifier_name)
        try:
            await consumer.run(stop)
        finally:
            await bot.session.close()
            await redis.aclose()
    log.info("notifier_stopped")
    return 0
