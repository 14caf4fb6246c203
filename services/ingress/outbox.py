"""The ingress's one way to say something in a chat: queued, then sent by the shared sender.

Handlers call :meth:`Outbox.say` and return at once; a task per chat sends
that chat's answers in order through ``shared.sender.Sender``, so the
ingress spends the same Redis flood budget as the relays and the notifier
and handles 429, 5xx and 403 the same way. Nothing in ``services/ingress``
calls ``bot.send_message``.

Why in the background: the sender waits for budget (1 message a second per
chat by default) and honours every ``retry_after`` in full, which can be
minutes. Awaited in a handler, one chatty user or one 429 would stall every
update behind it, since updates are handled one at a time.

Why bounded, and lossy past the bound: answers are quick-command lists,
help and rejections, worth little once they are stale, and a person (or a
crowd of strangers) typing faster than Telegram lets us answer must not
grow memory without limit. Each chat keeps at most ``per_chat`` answers
waiting; past it, and past ``max_chats`` chats with answers waiting, a new
answer is dropped and logged (``answer_dropped``). Chat messages for the PO
never go through here: they are stored in Redis before the update is
confirmed (``intake``).

Not durable: answers waiting when the process dies are lost (the user sees
no answer and asks again); on SIGTERM :meth:`Outbox.close` gives them a few
seconds. Redis failing while an answer is sent is retried briefly, then the
answer is dropped.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

from redis.exceptions import RedisError

from shared.formatting import html_parts
from shared.log import get_logger
from shared.sender import Outcome, Piece, ReplyMarkup, Sender, pieces

log = get_logger(__name__)

PER_CHAT = 10
"""Answers waiting in one chat: ten seconds of answers at Telegram's per-chat pace."""
MAX_CHATS = 10_000
REDIS_ATTEMPTS = 3
REDIS_RETRY_S = 0.5


@dataclass(frozen=True)
class Answer:
    pieces: Sequence[Piece]
    reply_markup: ReplyMarkup | None = None


class Outbox:
    def __init__(
        self, sender: Sender, *, per_chat: int = PER_CHAT, max_chats: int = MAX_CHATS
    ) -> None:
        self._sender = sender
        self._per_chat = per_chat
        self._max_chats = max_chats
        self._queues: dict[int, collections.deque[Answer]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    def say(
        self,
        chat_id: int,
        text: str,
        *,
        html: bool = False,
        reply_markup: ReplyMarkup | None = None,
    ) -> bool:
        """Queue ``text`` (HTML when ``html``, else plain) for ``chat_id``; ``False`` if dropped."""
        parts = (
            [Piece.html(part) for part in html_parts(text)]
            if html
            else pieces(text, markdown=False)
        )
        return self._queue(chat_id, Answer(parts, reply_markup))

    def _queue(self, chat_id: int, answer: Answer) -> bool:
        queue = self._queues.get(chat_id)
        if queue is None:
            if len(self._queues) >= self._max_chats:
                log.warning("answer_dropped", chat_id=chat_id, reason="too_many_chats")
                return False
            queue = self._queues[chat_id] = collections.deque()
            self._start(chat_id, queue)
        elif len(queue) >= self._per_chat:
            log.warning("answer_dropped", chat_id=chat_id, reason="chat_backlog")
            return False
        queue.append(answer)
        return True

    def _start(self, chat_id: int, queue: collections.deque[Answer]) -> None:
        self._idle.clear()
        task = asyncio.create_task(self._drain(chat_id, queue), name=f"outbox-{chat_id}")
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("outbox_failed", error=type(exc).__name__, exc_info=exc)
        if not self._tasks:
            self._idle.set()

    async def _drain(self, chat_id: int, queue: collections.deque[Answer]) -> None:
        try:
            while queue:
                await self._send(chat_id, queue[0])
                queue.popleft()
        finally:
            # Sends are awaited above, so nothing was added between the last check and here.
            del self._queues[chat_id]

    async def _send(self, chat_id: int, answer: Answer) -> None:
        for attempt in range(1, REDIS_ATTEMPTS + 1):
            try:
                result = await self._sender.send_pieces(
                    chat_id, answer.pieces, reply_markup=answer.reply_markup
                )
            except RedisError as exc:
                # The flood budget lives in Redis: without it we may not send.
                log.warning(
                    "answer_redis_error", chat_id=chat_id, attempt=attempt, error=type(exc).__name__
                )
                await asyncio.sleep(REDIS_RETRY_S * attempt)
                continue
            if result.outcome is not Outcome.DELIVERED:
                # The sender has logged why (blocked, rejected, retries spent).
                log.info("answer_not_delivered", chat_id=chat_id, outcome=result.outcome)
            return
        log.warning("answer_dropped", chat_id=chat_id, reason="redis_unavailable")

    async def join(self) -> None:
        """Wait until every queued answer has been sent (or given up)."""
        await self._idle.wait()

    async def close(self, timeout_s: float) -> None:
        """Give waiting answers ``timeout_s`` to go out, then cancel the rest."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.join(), timeout_s)
        waiting = sum(len(queue) for queue in self._queues.values())
        if waiting:
            log.warning("answers_abandoned", answers=waiting, chats=len(self._queues))
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
