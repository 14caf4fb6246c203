"""The "typing…" indicator while a user waits for their PO: one loop, no task per user.

Telegram shows a chat action for about 5 s, so it is renewed every
``interval_s`` (4 s) from ``first_after_s`` (1 s) after the message was
forwarded until the first output entry of the user is read, or until
``cap_s`` (``TYPING_CAP_S``) has passed. The first second is skipped: a reply
that fast needs no indicator, and for such POs it halves the requests to
Telegram (and the relay's work per message). Best effort: a failed action
is not retried, and a relay that takes a partition over does not resume its
users' indicators.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from services.relay.outbound import Outbound
from shared.log import get_logger

log = get_logger(__name__)

INTERVAL_S: Final = 4.0
FIRST_AFTER_S: Final = 1.0


@dataclass(slots=True)
class _Waiting:
    chat_id: int
    next_at: float
    until: float


class TypingIndicator:
    def __init__(
        self,
        outbound: Outbound,
        *,
        cap_s: float,
        interval_s: float = INTERVAL_S,
        first_after_s: float = FIRST_AFTER_S,
        concurrency: int = 16,
    ) -> None:
        self._outbound = outbound
        self._cap_s = cap_s
        self._interval_s = interval_s
        self._first_after_s = first_after_s
        self._waiting: dict[int, _Waiting] = {}
        self._in_flight: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(concurrency)
        self._changed = asyncio.Event()
        self.actions_sent = 0

    def start(self, user_id: int, chat_id: int) -> None:
        """The user's message went to the PO: show "typing…" now and until the first reply."""
        now = time.monotonic()
        waiting = self._waiting.get(user_id)
        if waiting is None:
            first = now + self._first_after_s
            self._waiting[user_id] = _Waiting(chat_id, first, now + self._cap_s)
            self._changed.set()
        else:
            waiting.chat_id = chat_id
            waiting.until = now + self._cap_s

    def stop(self, user_id: int) -> None:
        self._waiting.pop(user_id, None)

    def forget(self, user_ids: Iterable[int]) -> None:
        for user_id in user_ids:
            self._waiting.pop(user_id, None)

    def waiting(self, user_id: int) -> bool:
        return user_id in self._waiting

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._changed.clear()
            delay = self._send_due()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await _first_set(stop, self._changed)
        for task in list(self._in_flight):
            task.cancel()

    def _send_due(self) -> float | None:
        """Start the actions that are due; return the seconds until the next one."""
        now = time.monotonic()
        next_at: float | None = None
        for user_id, waiting in list(self._waiting.items()):
            if waiting.until <= now:
                del self._waiting[user_id]
                log.info("typing_capped", user_id=user_id)
                continue
            if waiting.next_at <= now:
                waiting.next_at = now + self._interval_s
                task = asyncio.create_task(self._send(waiting.chat_id))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
            due = min(waiting.next_at, waiting.until)
            next_at = due if next_at is None else min(next_at, due)
        return None if next_at is None else max(0.0, next_at - now)

    async def _send(self, chat_id: int) -> None:
        async with self._slots:
            if await self._outbound.typing(chat_id):
                self.actions_sent += 1


async def _first_set(*events: asyncio.Event) -> None:
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
