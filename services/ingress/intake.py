"""Durable intake: a known user's chat message, queued in Redis for the relays."""

from __future__ import annotations

import redis.asyncio as aioredis

from shared import keys
from shared.log import get_logger
from shared.schemas import IncomingMessage, encode_entry

log = get_logger(__name__)


class Intake:
    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis

    async def push(self, message: IncomingMessage) -> str:
        entry_id = await self._redis.xadd(keys.INCOMING, encode_entry(message))  # type: ignore[arg-type]
        entry = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
        log.info(
            "message_queued",
            user_id=message.user_id,
            update_id=message.update_id,
            entry_id=entry,
        )
        return entry
