"""The relay entry point: the incoming loop and the reply loop, until SIGTERM."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from aiogram import Bot

from services.relay import replies
from services.relay.sessions import Sessions
from services.relay.settings import RelaySettings
from shared import keys
from shared.connections import redis_client, telegram_bot
from shared.log import get_logger
from shared.schemas import IncomingMessage, POWorkerInput, decode_entry, encode_entry
from shared.streams import StreamConsumer, install_stop_signals

log = get_logger(__name__)


class Relay:
    """Turns one queued chat message into PO input, spawning the PO when needed."""

    def __init__(self, redis: aioredis.Redis, sessions: Sessions) -> None:
        self._redis = redis
        self._sessions = sessions

    async def handle(self, entry_id: str, message: IncomingMessage) -> None:
        worker_id = await self._sessions.worker_for(message.user_id, message.telegram_id)
        await replies.activate(self._redis, message.user_id, message.chat_id)
        po_input = POWorkerInput(
            request_id=entry_id,
            user_id=message.user_id,
            telegram_id=message.telegram_id,
            chat_id=message.chat_id,
            text=message.text,
        )
        await self._redis.xadd(keys.po_input(message.user_id), encode_entry(po_input))  # type: ignore[arg-type]
        log.info(
            "message_forwarded", user_id=message.user_id, worker_id=worker_id, entry_id=entry_id
        )


async def serve(settings: RelaySettings) -> int:
    stop = asyncio.Event()
    install_stop_signals(stop)
    redis = redis_client(settings)
    # Each loop blocks on its own connection.
    blocking = redis_client(settings, blocking=True)
    blocking_replies = redis_client(settings, blocking=True)
    bot: Bot = telegram_bot(settings)
    sessions = Sessions(
        redis,
        api_url=settings.api_url,
        instructions=settings.po_instructions,
        allowed_commands=list(settings.po_allowed_commands),
    )
    relay = Relay(redis, sessions)
    incoming = StreamConsumer(
        blocking,
        stream=keys.INCOMING,
        group=keys.RELAY_GROUP,
        consumer=settings.relay_name,
        decode=lambda fields: decode_entry(fields, IncomingMessage),
        handler=relay.handle,
    )
    forwarder = replies.ReplyForwarder(redis, blocking_replies, bot, settings.relay_name)
    log.info("relay_started", consumer=settings.relay_name)
    try:
        await asyncio.gather(incoming.run(stop), forwarder.run(stop))
    finally:
        await bot.session.close()
        for client in (redis, blocking, blocking_replies):
            await client.aclose()
    log.info("relay_stopped")
    return 0
