"""👀 on a user's message once it is in the PO's input; removed once its final reply is handled.

Shown from ``SHOW_AFTER_S`` (1 s) after the message went to the PO, as
"typing…" is: a reply within a second needs neither the 👀 nor its removal,
two Bot API calls saved on every quick answer.

Removed rather than replaced (by ✅, say): the reply itself says the message
was answered, and a second reaction per message would spend a second send
of the chat's budget on every reply. Each call takes a flood-budget slot
like a message, but only a slot that is free now (as a preview does), so a
reaction never queues before a reply: a reply waits at most for the one
slot a reaction took just before it. A 👀 that finds no free slot is tried
again a chat slot later, ``ADD_TRIES`` times, until the reply comes first;
then it is skipped and its record dropped (``bot:acks:{user}``), so no
removal is spent on it. A removal that finds no free slot is tried again
every ``RETRY_EVERY_S`` for ``REMOVAL_TRIES`` tries. Telegram refusing one
(an old message, reactions off) is logged and costs nothing else.
``ACK_REACTIONS=false`` turns both off.
Which message to unreact is kept in Redis with the pending request, so the
relay that delivers the reply knows it even after a takeover.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from services.relay.outbound import Outbound
from shared import keys
from shared.log import get_logger

log = get_logger(__name__)

RECEIVED: Final = "👀"
SHOW_AFTER_S: Final = 1.0
"""As for "typing…": a reply within a second needs no 👀, and spends no two calls on it."""
RETRY_EVERY_S: Final = 1.0
"""A chat's pace at the default ``TELEGRAM_RATE_CHAT_PER_S``: its next slot."""
ADD_TRIES: Final = 3
"""The 👀 is tried again this often, a chat slot apart, until the reply comes first:
the first message of a session shares its second with the keyboard's note."""
REMOVAL_TRIES: Final = 10
DRAIN_S: Final = 3.0
"""On the way out, how long reactions still going out get to finish."""


class AckReactions:
    """Sends the received/answered reactions in the background; see the module docstring."""

    def __init__(self, redis: aioredis.Redis, outbound: Outbound, *, enabled: bool) -> None:
        self._redis = redis
        self._outbound = outbound
        self.enabled = enabled
        self._tasks: set[asyncio.Task[Any]] = set()
        self._adding: dict[tuple[int, int], asyncio.Task[bool]] = {}
        """The 👀 still going out, per message: a fast reply's removal waits for it."""
        self._replied: set[tuple[int, int]] = set()
        """Messages whose reply came while their 👀 was still being tried: too late for it."""

    def received(self, user_id: int, request_id: str, chat_id: int, message_id: int) -> None:
        if self.enabled:
            key = (chat_id, message_id)
            self._adding[key] = self._start(self._add(user_id, request_id, chat_id, message_id))
            self._adding[key].add_done_callback(lambda _: self._forget(key))

    def answered(self, chat_id: int, message_id: int) -> None:
        if self.enabled:
            key = (chat_id, message_id)
            adding = self._adding.get(key)
            if adding is not None:
                self._replied.add(key)
            self._start(self._remove(chat_id, message_id, after=adding))

    def _forget(self, key: tuple[int, int]) -> None:
        task = self._adding.get(key)
        if task is not None and task.done():
            del self._adding[key]
            self._replied.discard(key)

    def _start(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _add(self, user_id: int, request_id: str, chat_id: int, message_id: int) -> bool:
        """Whether the 👀 is shown."""
        await asyncio.sleep(SHOW_AFTER_S)
        for attempt in range(ADD_TRIES):
            if attempt:
                await asyncio.sleep(RETRY_EVERY_S)
            if (chat_id, message_id) in self._replied:
                break
            shown = await self._outbound.react(chat_id, message_id, RECEIVED, wait=False)
            if shown is not None:
                if shown:
                    return True
                break  # refused (reactions off, an old message): trying again changes nothing
        # Not shown (no free slot, refused, or too late): nothing to remove at the reply.
        try:
            await self._redis.hdel(keys.acks(user_id), request_id)
        except RedisError as exc:
            log.info("reaction_record_kept", user_id=user_id, error=type(exc).__name__)
        return False

    async def _remove(
        self, chat_id: int, message_id: int, *, after: asyncio.Task[bool] | None = None
    ) -> None:
        if after is not None:
            # Its own 👀 first, or the removal would be undone; none shown: none to remove.
            await asyncio.wait({after})
            if after.cancelled() or after.exception() is not None or not after.result():
                return
        for attempt in range(REMOVAL_TRIES):
            if attempt:
                await asyncio.sleep(RETRY_EVERY_S)
            if await self._outbound.react(chat_id, message_id, None, wait=False) is not None:
                return
        log.info("reaction_left", chat_id=chat_id, message_id=message_id)

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``; then the reactions still going out get a moment to finish."""
        await stop.wait()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=DRAIN_S)
