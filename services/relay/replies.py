"""Forwarding PO replies to users' chats.

One blocking ``XREADGROUP`` over the output streams of every active user
(never one poll per user). A final reply goes to the user's chat; partial
snapshots (``is_final: false``) are skipped for now, since the final entry
carries the whole text.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import redis.asyncio as aioredis
from aiogram import Bot
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from shared import keys
from shared.delivery import send_text
from shared.log import get_logger
from shared.schemas import MalformedEntry, POWorkerOutput, decode_entry

log = get_logger(__name__)

BLOCK_MS = 1000
BATCH = 100


async def activate(redis: aioredis.Redis, user_id: int, chat_id: int) -> None:
    """Make ``user_id``'s replies flow to ``chat_id``, before any input reaches the PO."""
    try:
        await redis.xgroup_create(keys.po_output(user_id), keys.RELAY_GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(keys.user_chat(user_id), chat_id, ex=keys.SESSION_TTL_S)
        pipe.sadd(keys.ACTIVE_USERS, user_id)
        await pipe.execute()


class ReplyForwarder:
    def __init__(self, redis: aioredis.Redis, blocking: aioredis.Redis, bot: Bot, consumer: str):
        self._redis = redis
        self._blocking = blocking
        self._bot = bot
        self._consumer = consumer

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._once(stop)
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                log.warning("replies_redis_unavailable", error=type(exc).__name__)
                await _pause(stop, 1.0)

    async def _once(self, stop: asyncio.Event) -> None:
        members = await self._redis.smembers(keys.ACTIVE_USERS)
        if not members:
            await _pause(stop, BLOCK_MS / 1000)
            return
        streams: dict[Any, Any] = {keys.po_output(int(m)): ">" for m in members}
        # RESP2 answers ``[[stream, [(id, fields), ...]], ...]``; the declared type is a union.
        answer: Any = await self._blocking.xreadgroup(
            keys.RELAY_GROUP, self._consumer, streams, count=BATCH, block=BLOCK_MS
        )
        for stream, entries in answer or []:
            for entry_id, fields in entries:
                await self._forward(stream.decode(), entry_id.decode(), fields)

    async def _forward(self, stream: str, entry_id: str, fields: dict[bytes, bytes]) -> None:
        try:
            reply = decode_entry(fields, POWorkerOutput)
        except MalformedEntry as exc:
            log.warning("reply_dead_lettered", stream=stream, entry_id=entry_id, error=str(exc))
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.xadd(keys.dead_letter(stream), {**fields, b"error": str(exc).encode()})  # type: ignore[dict-item]
                pipe.xack(stream, keys.RELAY_GROUP, entry_id)
                await pipe.execute()
            return
        if reply.is_final:
            user_id = int(stream.split(":")[2])
            chat = await self._redis.get(keys.user_chat(user_id))
            if chat is not None and reply.reply_text:
                await send_text(self._bot, int(chat), reply.reply_text)
                log.info("reply_delivered", user_id=user_id, entry_id=entry_id)
        await self._redis.xack(stream, keys.RELAY_GROUP, entry_id)


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    """Wait ``seconds``, or less if asked to stop."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
