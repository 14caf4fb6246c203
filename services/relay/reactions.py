"""👀 on a user's message once it is in the PO's input; removed once its final reply is delivered.

Removed rather than replaced (by ✅, say): the reply itself says the message
was answered, and a second reaction per message would spend a second send
of the chat's budget on every reply. Both calls go out in the background,
each taking a flood-budget slot like any call, so a reply waits at most one
slot for a reaction; Telegram refusing one (an old message, reactions off
in the chat) is logged and costs nothing else. ``ACK_REACTIONS=false``
turns both off. Which message to unreact is kept in Redis with the pending
request (``bot:acks:{user}``), so the relay that delivers the reply knows it
even after a takeover.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, Final

from services.relay.outbound import Outbound
from shared.log import get_logger

log = get_logger(__name__)

RECEIVED: Final = "👀"
DRAIN_S: Final = 3.0
"""On the way out, how long reactions still going out get to finish."""


class AckReactions:
    """Sends the received/answered reactions in the background; see the module docstring."""

    def __init__(self, outbound: Outbound, *, enabled: bool) -> None:
        self._outbound = outbound
        self.enabled = enabled
        self._tasks: set[asyncio.Task[None]] = set()
        self._adding: dict[tuple[int, int], asyncio.Task[None]] = {}
        """The 👀 still going out, per message: a fast reply's removal waits for it."""

    def received(self, chat_id: int, message_id: int) -> None:
        if self.enabled:
            key = (chat_id, message_id)
            self._adding[key] = self._start(self._react(chat_id, message_id, RECEIVED))
            self._adding[key].add_done_callback(lambda _: self._forget(key))

    def answered(self, chat_id: int, message_id: int) -> None:
        if self.enabled:
            adding = self._adding.get((chat_id, message_id))
            self._start(self._react(chat_id, message_id, None, after=adding))

    def _forget(self, key: tuple[int, int]) -> None:
        task = self._adding.get(key)
        if task is not None and task.done():
            del self._adding[key]

    def _start(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _react(
        self,
        chat_id: int,
        message_id: int,
        emoji: str | None,
        *,
        after: asyncio.Task[None] | None = None,
    ) -> None:
        if after is not None:
            await asyncio.wait({after})
        done = await self._outbound.react(chat_id, message_id, emoji)
        log.debug("reaction_set", chat_id=chat_id, message_id=message_id, shown=done)

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``; then the reactions still going out get a moment to finish."""
        await stop.wait()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=DRAIN_S)
