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

Edits (:meth:`Outbox.edit`: a list turned to another page) go the same
way as new answers, through the same per-chat queue and ``Sender.edit``:
an edit takes the chat's flood budget like a message, keeps its place in
the chat's order (a page turn never overtakes the answer it edits), and a
429 on it stalls no update. Awaiting ``Sender.edit`` in the callback
handler would be simpler and is exactly what the outbox exists to avoid.

An answer may carry a :class:`Mark`: a Redis key set (with a TTL) just
before it goes out, or, with ``only_if_new``, a key that must not exist yet
for it to go out at all. That is how "at most once per keyboard session"
holds across restarts and webhook replicas (``keyboard_sessions``), without
a Redis call in the handler.

Not durable: answers waiting when the process dies are lost (the user sees
no answer and asks again); on SIGTERM :meth:`Outbox.close` gives them a few
seconds. Redis failing while an answer is sent is retried briefly, then the
answer is dropped.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from redis.exceptions import RedisError

from shared.formatting import html_parts
from shared.log import get_logger
from shared.sender import Outcome, Piece, ReplyMarkup, Sender, SendResult, pieces

log = get_logger(__name__)

R = TypeVar("R")

PER_CHAT = 10
"""Answers waiting in one chat: ten seconds of answers at Telegram's per-chat pace."""
MAX_CHATS = 10_000
REDIS_ATTEMPTS = 3
REDIS_RETRY_S = 0.5


@dataclass(frozen=True)
class Mark:
    """A Redis key set to ``1`` for ``ttl_s`` as an answer goes out.

    ``only_if_new``: the answer goes out only if the key did not exist
    (``SET NX``), else it is skipped; otherwise the key is set (or its TTL
    renewed) and the answer goes out regardless.
    """

    key: str
    ttl_s: int
    only_if_new: bool = False


@dataclass(frozen=True)
class Answer:
    pieces: Sequence[Piece]
    reply_markup: ReplyMarkup | None = None
    edit_of: int | None = None
    """The id of the bot's message to edit into this answer (one piece); None: a new message."""
    mark: Mark | None = None


class _RedisDown:
    """Redis failed through every attempt (already logged)."""


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
        mark: Mark | None = None,
    ) -> bool:
        """Queue ``text`` (HTML when ``html``, else plain) for ``chat_id``; ``False`` if dropped."""
        return self._queue(chat_id, Answer(_pieces(text, html), reply_markup, mark=mark))

    def edit(
        self,
        chat_id: int,
        message_id: int,
        text: str,
        *,
        html: bool = False,
        reply_markup: ReplyMarkup | None = None,
    ) -> bool:
        """Queue an edit of the bot's message ``message_id`` into ``text`` (one message's worth).

        ``reply_markup`` may only be an inline keyboard (Telegram's rule);
        None removes the message's buttons. ``False`` if dropped, or if
        ``text`` does not fit one message.
        """
        parts = _pieces(text, html)
        if len(parts) != 1:
            log.warning("edit_dropped", chat_id=chat_id, reason="not_one_message", parts=len(parts))
            return False
        return self._queue(chat_id, Answer(parts, reply_markup, edit_of=message_id))

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
        mark = answer.mark
        if mark is not None:
            # Apart from the send below: retrying a send must not meet its own mark.
            fresh = await self._with_redis(chat_id, lambda: self._set_mark(mark))
            if isinstance(fresh, _RedisDown):
                return
            if not fresh:
                log.debug("answer_skipped", chat_id=chat_id, reason="marked")
                return
        result = await self._with_redis(chat_id, lambda: self._deliver(chat_id, answer))
        if isinstance(result, SendResult) and result.outcome is not Outcome.DELIVERED:
            # The sender has logged why (blocked, rejected, retries spent).
            log.info("answer_not_delivered", chat_id=chat_id, outcome=result.outcome)

    async def _deliver(self, chat_id: int, answer: Answer) -> SendResult:
        if answer.edit_of is None:
            return await self._sender.send_pieces(
                chat_id, answer.pieces, reply_markup=answer.reply_markup
            )
        return await self._sender.edit_piece(
            chat_id, answer.edit_of, answer.pieces[0], reply_markup=answer.reply_markup
        )

    async def _set_mark(self, mark: Mark) -> bool:
        """Set ``mark``; whether the answer should go out."""
        redis = self._sender.redis
        done = await redis.set(mark.key, 1, ex=mark.ttl_s, nx=mark.only_if_new)
        return bool(done)

    async def _with_redis(
        self, chat_id: int, operation: Callable[[], Awaitable[R]]
    ) -> R | _RedisDown:
        """``operation()``, tried again briefly while Redis fails; then the answer is dropped."""
        for attempt in range(1, REDIS_ATTEMPTS + 1):
            try:
                return await operation()
            except RedisError as exc:
                # The flood budget (and any mark) lives in Redis: without it we may not send.
                log.warning(
                    "answer_redis_error", chat_id=chat_id, attempt=attempt, error=type(exc).__name__
                )
                await asyncio.sleep(REDIS_RETRY_S * attempt)
        log.warning("answer_dropped", chat_id=chat_id, reason="redis_unavailable")
        return _RedisDown()

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


def _pieces(text: str, html: bool) -> list[Piece]:
    if html:
        return [Piece.html(part) for part in html_parts(text)]
    return pieces(text, markdown=False)
