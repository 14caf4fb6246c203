"""The "typing…" indicator while a user waits for their PO: one loop, no task per user.

Shown from ``first_after_s`` (1 s: a faster reply needs none) after the
message was forwarded, renewed every ``interval_s`` (4 s; Telegram shows it
about 5 s) until the user's first output entry is read or ``cap_s`` passed.
Best effort. A takeover resumes it from ``bot:typing:{p}``, which the
forwarding script writes and the first reply, a start failure told or a
prune clears. See the relay's "Typing and PO start" section of
``docs/ARCHITECTURE.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any, Final

import redis.asyncio as aioredis

from services.relay import keyspace
from services.relay.outbound import Outbound
from services.relay.working_note import WorkingNotes
from shared.connections import text
from shared.log import get_logger
from shared.scripts import register
from shared.stopping import first_set

log = get_logger(__name__)

INTERVAL_S: Final = 4.0
FIRST_AFTER_S: Final = 1.0


@dataclass(slots=True)
class _Waiting:
    chat_id: int
    partition: int
    next_at: float
    until: float


class TypingIndicator:
    def __init__(
        self,
        redis: aioredis.Redis,
        outbound: Outbound,
        *,
        cap_s: float,
        interval_s: float = INTERVAL_S,
        first_after_s: float = FIRST_AFTER_S,
        concurrency: int = 16,
        notes: WorkingNotes | None = None,
    ) -> None:
        self._outbound = outbound
        self._notes = notes
        self._cap_s = cap_s
        self._interval_s = interval_s
        self._first_after_s = first_after_s
        self._waiting: dict[int, _Waiting] = {}
        self._in_flight: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(concurrency)
        self._changed = asyncio.Event()
        self._load = register(redis, __file__, "typing_load.lua")
        self.actions_sent = 0

    @property
    def cap_ms(self) -> int:
        """The cap the forwarding script records with each waiting user."""
        return int(self._cap_s * 1000)

    def start(self, user_id: int, chat_id: int, partition: int) -> None:
        """The user's message went to the PO: show "typing…" soon and until the first reply."""
        now = time.monotonic()
        self._wait(user_id, chat_id, partition, now + self._first_after_s, now + self._cap_s)

    def _wait(
        self, user_id: int, chat_id: int, partition: int, first_at: float, until: float
    ) -> None:
        waiting = self._waiting.get(user_id)
        if waiting is None:
            self._waiting[user_id] = _Waiting(chat_id, partition, first_at, until)
            self._changed.set()
            if self._notes is not None:
                self._notes.start(user_id, chat_id)
        else:
            waiting.chat_id, waiting.partition = chat_id, partition
            waiting.until = max(waiting.until, until)

    async def start_partition(self, partition: int) -> None:
        """Resume the indicators of the partition's users still waiting (a takeover)."""
        reply: Any = await self._load(keys=[keyspace.typing(partition)])
        now_ms, now = int(reply[0]), time.monotonic()
        for i in range(1, len(reply), 2):
            chat, _, until_ms = text(reply[i + 1]).rpartition(":")
            # Now: the user has been waiting since before the takeover.
            self._wait(
                int(reply[i]), int(chat), partition, now, now + (int(until_ms) - now_ms) / 1000
            )
        if resumed := len(reply) // 2:
            log.info("typing_resumed", partition=partition, users=resumed)

    async def stop_partition(self, partition: int, *, drain: bool) -> None:
        for user_id in [u for u, w in self._waiting.items() if w.partition == partition]:
            self.stop(user_id)

    def stop(self, user_id: int) -> None:
        """The wait ended (a reply, a stop, a failure told): "typing…" and its note end."""
        self._waiting.pop(user_id, None)
        if self._notes is not None:
            self._notes.stop(user_id)

    def waiting(self, user_id: int) -> bool:
        return user_id in self._waiting

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._changed.clear()
            delay = self._send_due()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await first_set(stop, self._changed)
        for task in list(self._in_flight):
            task.cancel()

    def _send_due(self) -> float | None:
        """Start the actions that are due; return the seconds until the next one."""
        now = time.monotonic()
        next_at: float | None = None
        for user_id, waiting in list(self._waiting.items()):
            if waiting.until <= now:
                self.stop(user_id)
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
