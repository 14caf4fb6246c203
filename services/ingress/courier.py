"""Sending the ingress's stored answers, per chat in order, and taking over a dead process's.

One ``Courier`` per process. The poller or the webhook hands it the answers
``Intake.store`` has just put in ``bot:answers`` (:meth:`Courier.queue`);
it sends each chat's in order through ``shared.sending.sender.Sender``, by a task
per chat, and deletes each entry once delivered or given up for good.
Nothing else in ``services/ingress`` sends a message.

Why a background task per chat: the sender honours every ``retry_after`` in
full, and awaited in a handler one 429 would stall every update behind it.
Why bounded: stale answers are worth little, and a chat typing faster than
Telegram lets us answer must not grow memory; past the bound new answers
are dropped before they are stored (:meth:`Courier.refusal`).

Each entry names its owner; a process keeps its alive key while it runs,
and every process scans ``bot:answers`` for answers whose owner is gone
(:meth:`Courier.recover`), so a crash loses none, and the sender's key
``answer:{answer_id}`` keeps a copy sent twice from being shown twice. The
whole path, with what happens on a crash: docs/ARCHITECTURE.md, "Ingress:
the answer path".
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Final, TypeVar

from redis.exceptions import RedisError

from services.ingress.batch import IntakeBatch, StoredAnswerEntry
from services.ingress.recovery import MAX_AGE_S, SCAN_COUNT, AnswerRecovery
from shared import keys, scripts
from shared.log import get_logger
from shared.schemas import AnswerMark, StoredAnswer
from shared.sending.results import Outcome, SendResult
from shared.sending.sender import Sender
from shared.stopping import pause

log = get_logger(__name__)

R = TypeVar("R")

PER_CHAT: Final = 10
"""Answers waiting in one chat: ten seconds of answers at Telegram's per-chat pace."""
MAX_CHATS: Final = 10_000
REDIS_ATTEMPTS: Final = 3
REDIS_RETRY_S: Final = 0.5
ALIVE_TTL_S: Final = 15.0
ALIVE_REFRESH_S: Final = 5.0
SCAN_S: Final = 5.0
CANCEL_WAIT_S: Final = 1.0
"""On close, how long cancelled sends get to end before the alive key goes anyway."""


def new_instance_id() -> str:
    """This process's name as an answers' owner: host, pid and a random tag (unique per start)."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"


class _RedisDown:
    """Redis failed through every attempt (already logged)."""


class Courier:
    """Sends stored answers, per chat in order, and takes over those of dead processes.

    Taking over is ``recovery.AnswerRecovery``'s (:meth:`recover`), within
    this courier's bounds.

    :meth:`start` sets the alive key and starts the keep-alive and recovery
    loops; :meth:`close` stops them. ``alive_ttl_s``, ``alive_refresh_s``,
    ``scan_s`` and ``max_age_s`` are the ingress settings
    ``INGRESS_ALIVE_TTL_S``, ``INGRESS_ALIVE_REFRESH_S``, ``ANSWERS_SCAN_S``
    and ``ANSWERS_MAX_AGE_S``.
    """

    def __init__(
        self,
        sender: Sender,
        *,
        instance: str | None = None,
        per_chat: int = PER_CHAT,
        max_chats: int = MAX_CHATS,
        alive_ttl_s: float = ALIVE_TTL_S,
        alive_refresh_s: float = ALIVE_REFRESH_S,
        scan_s: float = SCAN_S,
        max_age_s: float = MAX_AGE_S,
        scan_count: int = SCAN_COUNT,
    ) -> None:
        self.instance = instance or new_instance_id()
        self._sender = sender
        self._redis = sender.redis
        self._alive_key = keys.ingress_alive(self.instance)
        self._per_chat = per_chat
        self._max_chats = max_chats
        self._alive_ttl_ms = max(1, int(alive_ttl_s * 1000))
        self._alive_refresh_s = alive_refresh_s
        self._scan_s = scan_s
        self._queues: dict[int, collections.deque[StoredAnswerEntry]] = {}
        self._known: set[str] = set()
        """Entry ids of the answers this process is sending or will send."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = asyncio.Event()
        self._recovery = AnswerRecovery(
            self._redis,
            self.instance,
            known=self._known,
            has_room=self._room_for,
            queue=self.queue,
            max_age_s=max_age_s,
            scan_count=scan_count,
        )
        self._set_new_mark = scripts.register(self._redis, __file__, "set_mark.lua")

    # ---- the batch side

    def refusal(self, chat_id: int, batch: IntakeBatch) -> str | None:
        """Why one more answer to ``chat_id`` must be dropped (None: it may be stored)."""
        queue = self._queues.get(chat_id)
        in_batch = batch.answers_to(chat_id)
        if queue is None and in_batch == 0:
            chats = len(self._queues) + sum(
                1 for other in batch.answer_chats if other not in self._queues
            )
            return "too_many_chats" if chats >= self._max_chats else None
        waiting = (0 if queue is None else len(queue)) + in_batch
        return "chat_backlog" if waiting >= self._per_chat else None

    def queue(self, stored: Iterable[StoredAnswerEntry]) -> None:
        """Send these stored answers (entry id, answer), each chat's in the order given.

        After :meth:`close` they are left in Redis, for whoever takes them over.
        """
        if self._stopping.is_set():
            return
        for entry in stored:
            if entry.entry_id in self._known:
                continue  # recovered while its store's reply was on the way
            self._known.add(entry.entry_id)
            chat_id = entry.answer.chat_id
            queue = self._queues.get(chat_id)
            if queue is None:
                queue = self._queues[chat_id] = collections.deque()
                self._start_chat(chat_id, queue)
            queue.append(entry)

    # ---- sending

    def _start_chat(self, chat_id: int, queue: collections.deque[StoredAnswerEntry]) -> None:
        self._idle.clear()
        task = asyncio.create_task(self._drain(chat_id, queue), name=f"courier-{chat_id}")
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("courier_failed", error=type(exc).__name__, exc_info=exc)
        if not self._tasks:
            self._idle.set()

    async def _drain(self, chat_id: int, queue: collections.deque[StoredAnswerEntry]) -> None:
        try:
            while queue:
                item = queue[0]
                if not await self._send(chat_id, item):
                    # Left in Redis, forgotten here: a later scan of ours takes them up again.
                    log.warning(
                        "answers_deferred",
                        chat_id=chat_id,
                        answers=len(queue),
                        reason="redis_unavailable",
                    )
                    self._known.difference_update(left.entry_id for left in queue)
                    queue.clear()
                    break
                queue.popleft()
                self._known.discard(item.entry_id)
        finally:
            # Sends are awaited above, so nothing was added between the last check and here.
            del self._queues[chat_id]
            # Left by a failure (a bug): forgotten, so a later scan of ours tries them again.
            self._known.difference_update(left.entry_id for left in queue)

    async def _send(self, chat_id: int, item: StoredAnswerEntry) -> bool:
        """Send one answer and delete its entry; False when Redis failed (it stays stored)."""
        answer = item.answer
        mark = answer.mark
        go = True
        if mark is not None:
            # Apart from the send below: retrying a send must not meet its own mark.
            fresh = await self._with_redis(chat_id, lambda: self._set_mark(mark, answer.answer_id))
            if isinstance(fresh, _RedisDown):
                return False
            if not fresh:
                log.debug("answer_skipped", chat_id=chat_id, reason="marked")
                go = False
        if go:
            result = await self._with_redis(chat_id, lambda: self._deliver(chat_id, answer))
            if isinstance(result, _RedisDown):
                return False
            if result.outcome is not Outcome.DELIVERED:
                # The sender has logged why (blocked, rejected, retries spent).
                log.info("answer_not_delivered", chat_id=chat_id, outcome=result.outcome)
        deleted = await self._with_redis(
            chat_id, lambda: self._redis.xdel(keys.ANSWERS, item.entry_id)
        )
        return not isinstance(deleted, _RedisDown)

    async def _deliver(self, chat_id: int, answer: StoredAnswer) -> SendResult:
        if answer.edit_of is None:
            # The key makes a copy sent again after a crash a no-op for what Telegram accepted.
            return await self._sender.send_pieces(
                chat_id,
                answer.pieces,
                key=answer_key(answer.answer_id),
                reply_markup=answer.reply_markup,
            )
        return await self._sender.edit_piece(
            chat_id, answer.edit_of, answer.pieces[0], reply_markup=answer.reply_markup
        )

    async def _set_mark(self, mark: AnswerMark, answer_id: str) -> bool:
        """Set ``mark`` to the answer's id; whether the answer should go out."""
        if not mark.only_if_new:
            await self._redis.set(mark.key, answer_id, ex=mark.ttl_s)
            return True
        # Set now, or by this very answer before a crash: it still has to go out.
        go: int = await self._set_new_mark(keys=[mark.key], args=[answer_id, mark.ttl_s])
        return go == 1

    async def _with_redis(
        self, chat_id: int, operation: Callable[[], Awaitable[R]]
    ) -> R | _RedisDown:
        """``operation()``, tried again briefly while Redis fails."""
        for attempt in range(1, REDIS_ATTEMPTS + 1):
            try:
                return await operation()
            except RedisError as exc:
                # The flood budget (and any mark) lives in Redis: without it we may not send.
                log.warning(
                    "answer_redis_error", chat_id=chat_id, attempt=attempt, error=type(exc).__name__
                )
                if attempt < REDIS_ATTEMPTS:
                    await asyncio.sleep(REDIS_RETRY_S * attempt)
        return _RedisDown()

    # ---- ownership and recovery

    async def start(self) -> None:
        """Announce this process alive, then keep it so and recover answers in the background."""
        await self._keep_alive_once()
        self._loops = [
            asyncio.create_task(self._keep_alive(), name="answers-alive"),
            asyncio.create_task(self._recover_loop(), name="answers-recovery"),
        ]

    async def _keep_alive_once(self) -> None:
        try:
            await self._redis.set(self._alive_key, 1, px=self._alive_ttl_ms)
        except RedisError as exc:
            log.warning("ingress_alive_failed", error=type(exc).__name__)

    async def _keep_alive(self) -> None:
        while not await self._stopped_within(self._alive_refresh_s):
            await self._keep_alive_once()

    async def _recover_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.recover()
            except RedisError as exc:
                log.warning("answers_recovery_failed", error=type(exc).__name__)
            except Exception:
                log.exception("answers_recovery_failed")
            if await self._stopped_within(self._scan_s):
                return

    async def _stopped_within(self, seconds: float) -> bool:
        return await pause(self._stopping, seconds)

    async def recover(self) -> int:
        """One scan of ``bot:answers`` (``AnswerRecovery.scan``); how many answers were queued."""
        return await self._recovery.scan()

    def _room_for(self, chat_id: int, planned: Mapping[int, int]) -> bool:
        queue = self._queues.get(chat_id)
        if queue is None and chat_id not in planned:
            return len(self._queues) + len(planned) < self._max_chats
        waiting = (0 if queue is None else len(queue)) + planned.get(chat_id, 0)
        return waiting < self._per_chat

    # ---- the way out

    async def join(self) -> None:
        """Wait until every queued answer has been sent (or given up, or left in Redis)."""
        await self._idle.wait()

    async def close(self, timeout_s: float) -> None:
        """Give waiting answers ``timeout_s`` to go out; leave the rest in Redis for others.

        The alive key is deleted last, so another ingress (or the next
        start) takes what is left over at its next scan.
        """
        self._stopping.set()
        for loop in self._loops:
            # A scan cut short may have taken answers it never queued: they are
            # ours in Redis, and the alive key goes below, so others take them.
            loop.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.join(), timeout_s)
        waiting = sum(len(queue) for queue in self._queues.values())
        if waiting:
            log.warning("answers_left_stored", answers=waiting, chats=len(self._queues))
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            # Bounded: a cancel that a library swallows (seen once inside a send
            # that had just met a 429) must not hold a SIGTERM for the whole
            # retry_after; what such a task has not sent stays stored for others.
            _, stuck = await asyncio.wait(tasks, timeout=CANCEL_WAIT_S)
            if stuck:
                log.warning("answer_tasks_not_stopped", tasks=len(stuck))
        try:
            await self._redis.delete(self._alive_key)
        except RedisError as exc:
            log.warning("ingress_alive_failed", error=type(exc).__name__)


def answer_key(answer_id: str) -> str:
    """The sender's idempotency key of an answer sent as new messages."""
    return f"answer:{answer_id}"
