"""Worker lifecycle events: a user whose PO failed on their message is told, once.

Only profiles with a lifecycle stream (``worker-streams``: ``worker:lifecycle``)
have one. The stream is global, so every relay reads all of it in ONE
blocking ``XREAD`` (no group; from its newest entry when the relay starts)
and acts only for users in partitions it owns: a flat cost, whatever the
number of users. The notice is sent under a key naming the event, so two
relays that both believed they owned the partition during a handover do
not show it twice.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from services.relay import keyspace
from services.relay.blocking import read_streams
from services.relay.contracts.base import LifecycleContract
from services.relay.languages import ChatLanguages
from services.relay.outbound import Delivery, Outbound
from services.relay.partitions import Ownership
from services.relay.typing_indicator import TypingIndicator
from shared import keys
from shared.backoff import backoff_delay
from shared.log import get_logger
from shared.schemas import MalformedEntry
from shared.stopping import pause
from shared.streams import Fields

log = get_logger(__name__)

NOTICE_ATTEMPTS: Final = 5
"""Sends of one failure notice while Telegram is away, before it is given up (logged)."""


class LifecycleWatch:
    """Reads the contract's lifecycle stream; see the module docstring."""

    def __init__(
        self,
        redis: aioredis.Redis,
        blocking: aioredis.Redis,
        *,
        contract: LifecycleContract,
        outbound: Outbound,
        ownership: Ownership,
        typing: TypingIndicator,
        languages: ChatLanguages,
        block_ms: int = 10_000,
    ) -> None:
        self._redis = redis
        self._blocking = blocking
        self._contract = contract
        self._outbound = outbound
        self._ownership = ownership
        self._typing = typing
        self._languages = languages
        self._block_ms = block_ms
        self.position: str | None = None
        """The last entry read; None until the first read is set up."""

    async def run(self, stop: asyncio.Event) -> None:
        stream = self._contract.lifecycle_stream
        if stream is None:
            return
        failures = 0
        while not stop.is_set():
            try:
                if self.position is None:
                    self.position = await self._newest(stream)
                    log.info("lifecycle_reading", stream=stream, position=self.position)
                reply = await read_streams(
                    self._blocking,
                    {stream: self.position},
                    count=100,
                    block_ms=self._block_ms,
                    stop=stop,
                )
                failures = 0
                for _stream, entries in reply or []:
                    for raw_id, fields in entries:
                        self.position = raw_id.decode()
                        await self._handle(self.position, fields, stop)
            except RedisError as exc:
                failures += 1
                if failures == 1 or failures % 20 == 0:
                    error = type(exc).__name__
                    log.warning("lifecycle_read_failed", error=error, failures=failures)
                await pause(stop, backoff_delay(failures))
            except Exception:
                # A bug must not stop the relay (its task group) nor this reader:
                # the entry in hand is skipped (the position moved past it).
                failures += 1
                log.exception("lifecycle_reader_failed", position=self.position)
                await pause(stop, backoff_delay(failures))

    async def _newest(self, stream: str) -> str:
        """The id of the stream's newest entry: events before this relay started are not ours."""
        newest: Any = await self._redis.xrevrange(stream, count=1)
        return str(newest[0][0].decode()) if newest else "0-0"

    async def _handle(self, entry_id: str, fields: Fields, stop: asyncio.Event) -> None:
        try:
            user_id = self._contract.failed_user(fields)
        except MalformedEntry as exc:
            log.warning("lifecycle_entry_malformed", entry_id=entry_id, error=str(exc))
            return
        if user_id is None:
            return
        partition = keys.partition_of(user_id)
        if not self._ownership.owns(partition):
            return
        chat: Any = await self._redis.get(keys.user_chat(user_id))
        fields_ = {"user_id": user_id, "partition": partition, "entry_id": entry_id}
        if chat is None:
            log.warning("po_failed_chat_unknown", **fields_)
            return
        log.warning("po_failed_on_message", **fields_)
        key = f"po-failed:{user_id}:{entry_id}"
        notice = (await self._languages.texts(int(chat))).po_failed
        for attempt in range(1, NOTICE_ATTEMPTS + 1):
            sent = await self._outbound.send(int(chat), notice, key=key, markdown=False)
            if sent.delivery is not Delivery.RETRY:
                break
            await pause(stop, backoff_delay(attempt))
        else:
            log.warning("po_failed_notice_undelivered", **fields_)
        # "typing…" after "it failed" would contradict it, here and after a takeover.
        self._typing.stop(user_id)
        await self._redis.hdel(keyspace.typing(partition), str(user_id))
