"""The one way the bot sends text to Telegram: budgeted, retried, at most once per key.

Every process (ingress, relay, notifier) sends through a :class:`Sender`, so
all of them spend one flood budget (:mod:`shared.ratelimit`) and handle
Telegram's answers the same way (:mod:`.retry`): a 429 pauses the chat for
every process and is waited out, 5xx and network errors are retried with
backoff, a blocked bot stops the message, and a part already sent under a
key (:mod:`.sent_log`) is never sent again, even by another process after a
crash or holding the same work at once. Within one process, sends to one
chat go one message at a time, in call order, so a message's parts stay
together (:mod:`.chat_locks`).

A request whose answer never came back may have been delivered; the Bot
API has no idempotency key, so it is sent again: a reply shown twice is a
nuisance, a reply lost is a failure the user cannot see. The design (round
trips per part, the ambiguous cases) is in ``docs/ARCHITECTURE.md``,
"Sending".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis

from shared.formatting.splitting import Part
from shared.log import get_logger
from shared.metrics import Metrics
from shared.ratelimit import FloodBudget, FloodLimiter, is_group
from shared.sending.attempts import Call, PartCall, PieceAttempts, Sent, Stopped
from shared.sending.chat_locks import ChatLocks
from shared.sending.live import LiveReply
from shared.sending.pieces import Piece, ReplyMarkup, pieces
from shared.sending.results import Outcome, SendResult
from shared.sending.retry import RECORD_RETRY, RetryPolicy, describe
from shared.sending.rich import RichPath
from shared.sending.sent_log import SENT_TTL_S, SentLog
from shared.settings import BaseSettings
from shared.telegram import RetryAfter, TelegramClient, TelegramError

log = get_logger(__name__)


class Sender:
    """Sends, edits and previews text within the shared flood budget; see the module docstring."""

    def __init__(
        self,
        client: TelegramClient,
        redis: aioredis.Redis,
        budget: FloodBudget | None = None,
        *,
        retry: RetryPolicy | None = None,
        record_retry: RetryPolicy = RECORD_RETRY,
        sent_ttl_s: float = SENT_TTL_S,
        metrics: Metrics | None = None,
        rich_messages: bool = False,
    ) -> None:
        self.client = client
        self.rich = RichPath(client, rich_messages)
        self.redis = redis
        self.limiter = FloodLimiter(redis, budget)
        self.sent = SentLog(redis, sent_ttl_s)
        self._attempts = PieceAttempts(
            self.limiter, self.sent, retry or RetryPolicy(), record_retry, metrics
        )
        self._chat_lock = ChatLocks()

    @classmethod
    def from_settings(
        cls,
        settings: BaseSettings,
        redis: aioredis.Redis,
        *,
        client: TelegramClient | None = None,
        retry: RetryPolicy | None = None,
        metrics: Metrics | None = None,
    ) -> Sender:
        """A sender with the settings' budget (``TELEGRAM_RATE_*``), ``RICH_MESSAGES``
        and, unless given, a client for ``TELEGRAM_BOT_TOKEN`` at ``TELEGRAM_API_URL``;
        :meth:`close` it."""
        return cls(
            client if client is not None else TelegramClient.from_settings(settings),
            redis,
            FloodBudget.from_settings(settings),
            retry=retry,
            metrics=metrics,
            rich_messages=settings.rich_messages,
        )

    async def close(self) -> None:
        """Close the Telegram client's HTTP session (not the Redis client)."""
        await self.client.close()

    # ---- final messages

    async def send(
        self,
        chat_id: int,
        text: str,
        *,
        key: str | None = None,
        markdown: bool = True,
        reply_markup: ReplyMarkup | None = None,
    ) -> SendResult:
        """Send ``text`` (split into parts as needed) to ``chat_id``, at most once per ``key``.

        Markdown goes as one rich message when ``rich_messages`` is on and
        Telegram takes it (:mod:`.rich`), else as HTML parts.
        """
        if markdown:
            rich = await self.rich.send(
                chat_id,
                text,
                lambda chat, calls, rich_key: self.send_calls(chat, calls, key=rich_key),
                key=key,
                reply_markup=reply_markup,
            )
            if rich is not None:
                return rich
        return await self.send_pieces(
            chat_id, pieces(text, markdown=markdown), key=key, reply_markup=reply_markup
        )

    async def send_parts(
        self,
        chat_id: int,
        parts: Sequence[Part],
        *,
        key: str | None = None,
        reply_markup: ReplyMarkup | None = None,
    ) -> SendResult:
        """Send rendered parts (``shared.formatting.Part``) as HTML messages, in order."""
        return await self.send_pieces(
            chat_id, [Piece.html(part) for part in parts], key=key, reply_markup=reply_markup
        )

    async def send_pieces(
        self,
        chat_id: int,
        items: Sequence[Piece],
        *,
        key: str | None = None,
        reply_markup: ReplyMarkup | None = None,
    ) -> SendResult:
        """Send ``items`` in order; ``reply_markup`` goes on the last one."""
        if not items:
            log.warning("send_empty", chat_id=chat_id, key=key)
            return SendResult(outcome=Outcome.FAILED, error="empty text")
        last = len(items) - 1
        calls = [
            PartCall(piece, self._send_call(chat_id, reply_markup if i == last else None))
            for i, piece in enumerate(items)
        ]
        return await self.send_calls(chat_id, calls, key=key)

    async def send_calls(
        self, chat_id: int, calls: Sequence[PartCall], *, key: str | None = None
    ) -> SendResult:
        """Make ``calls`` in order, as one keyed message of parts (files among them)."""
        async with self._chat_lock(chat_id):
            return await self._send_in_order(chat_id, calls, key)

    async def _send_in_order(
        self, chat_id: int, items: Sequence[PartCall], key: str | None
    ) -> SendResult:
        # Parts kept in this process (Redis could not record them) are loaded,
        # and written to Redis if it can take them now; every other part is
        # checked in the steps that take its flood slot.
        done = await self.sent.load(key) if key is not None and self.sent.unrecorded(key) else {}
        ids: list[int] = []
        resumed_at: int | None = None  # the first part this call sent or tried
        for index, item in enumerate(items):
            if index in done:
                ids.append(done[index])
                continue
            step = await self._attempts.deliver(
                chat_id,
                item.piece,
                item.call,
                self._context(key, index, len(items), item.method),
                record=None if key is None else (key, index),
            )
            if isinstance(step, Sent) and step.earlier:  # by another call, maybe meanwhile
                assert step.message_id is not None
                ids.append(step.message_id)
                continue
            if resumed_at is None:
                resumed_at = index
                if index:
                    log.info("send_resumed", chat_id=chat_id, key=key, part=index, parts=len(items))
            if isinstance(step, Stopped):
                return _stopped(step, message_ids=tuple(ids), resumed_at=resumed_at)
            assert step.message_id is not None  # every send answers a Message
            ids.append(step.message_id)
        return SendResult(
            outcome=Outcome.DELIVERED,
            message_ids=tuple(ids),
            resumed_at=len(items) if resumed_at is None else resumed_at,
        )

    @staticmethod
    def _context(key: str | None, index: int, parts: int, method: str) -> dict[str, Any]:
        return {"key": key, "part": index, "parts": parts, "method": method}

    async def edit(
        self,
        chat_id: int,
        message_id: int,
        text: str,
        *,
        markdown: bool = True,
        reply_markup: ReplyMarkup | None = None,
    ) -> SendResult:
        """Replace the text of a message the bot sent, within the budget (waits for it).

        ``text`` must fit one message; an unchanged text counts as delivered.
        ``reply_markup`` may only be an inline keyboard (Telegram's rule).
        """
        items = pieces(text, markdown=markdown)
        if len(items) != 1:
            log.warning("edit_not_one_part", chat_id=chat_id, message_id=message_id)
            return SendResult(outcome=Outcome.FAILED, error=f"text renders to {len(items)} parts")
        return await self.edit_piece(chat_id, message_id, items[0], reply_markup=reply_markup)

    async def edit_piece(
        self,
        chat_id: int,
        message_id: int,
        piece: Piece,
        *,
        reply_markup: ReplyMarkup | None = None,
    ) -> SendResult:
        """:meth:`edit` with text already built (HTML with its plain fallback, say)."""
        context = {"message_id": message_id, "method": "editMessageText"}
        call = self._edit_call(chat_id, message_id, reply_markup)
        async with self._chat_lock(chat_id):
            step = await self._attempts.deliver(chat_id, piece, call, context)
        if isinstance(step, Stopped):
            return _stopped(step)
        return SendResult(outcome=Outcome.DELIVERED, message_ids=(message_id,))

    # ---- previews: best effort, only if the budget is free right now

    async def preview(
        self,
        chat_id: int,
        draft_id: int,
        text: str,
        *,
        markdown: bool = True,
        can_stop: bool = False,
    ) -> bool:
        """Show ``text`` as a draft in a private chat if the budget is free now.

        Returns whether the draft was shown. Skipped (False) when the budget
        is busy, in groups (drafts are private-chat only) and on any error: a
        preview is never retried and never waits. The final text must still
        be sent with :meth:`send`.
        """
        if is_group(chat_id) or draft_id == 0:
            return False
        items = pieces(text, markdown=markdown) or [Piece.plain_text("")]
        # The tail is what is being written when a long reply needs several parts.
        call = self._draft_call(chat_id, draft_id, can_stop)
        sent = await self._attempts.try_now(chat_id, items[-1], call, "sendMessageDraft")
        return sent is not None

    async def preview_message(
        self, chat_id: int, text: str, *, markdown: bool = True
    ) -> int | None:
        """Send a preview message now if the budget allows; its id, or None if skipped."""
        items = pieces(text, markdown=markdown)
        if not items:
            return None
        call = self._send_call(chat_id, None)
        sent = await self._attempts.try_now(chat_id, items[-1], call, "sendMessage")
        return None if sent is None else sent.message_id

    async def preview_edit(
        self, chat_id: int, message_id: int, text: str, *, markdown: bool = True
    ) -> bool:
        """Edit a preview message in place now if the budget allows; whether it changed."""
        items = pieces(text, markdown=markdown)
        if not items:
            return False
        call = self._edit_call(chat_id, message_id, None)
        sent = await self._attempts.try_now(chat_id, items[-1], call, "editMessageText")
        return sent is not None

    def live(
        self, chat_id: int, draft_id: int, *, key: str | None = None, markdown: bool = True
    ) -> LiveReply:
        """A reply streamed into ``chat_id`` while it is written; see :class:`LiveReply`."""
        return LiveReply(self, chat_id, draft_id, key=key, markdown=markdown)

    async def chat_action(
        self, chat_id: int, action: str = "typing", *, timeout: float | None = None
    ) -> bool:
        """Show a chat action ("typing…") now, unless a 429 paused the chat; whether it was.

        Outside the message budget: an action is not a message, and taking a
        slot would hold back the reply that follows it by up to a chat
        interval. But a pause is honoured, and a 429 on the action pauses the
        chat (or every chat) for every process, like one on a message. Never
        retried. Redis errors propagate.
        """
        if await self.limiter.pause_left(chat_id) > 0:
            return False
        try:
            return await self.client.send_chat_action(chat_id, action, timeout=timeout)
        except RetryAfter as exc:
            await self._attempts.pause(chat_id, exc)
        except TelegramError as exc:
            log.debug("chat_action_failed", chat_id=chat_id, error=describe(exc))
        return False

    async def react(
        self, chat_id: int, message_id: int, emoji: str | None, *, wait: bool = True
    ) -> bool | None:
        """Set (or, with None, remove) the bot's reaction on a message; whether Telegram took it.

        None: not tried (``wait=False`` and no slot free now).

        It takes a slot of the flood budget like a message: the chat's pace
        and the bot's 30/s hold for reactions too. ``wait=False``: only if a
        slot is free now (as for a preview), so it never delays a message.
        Never retried: Telegram refusing it (an old message, reactions off)
        costs nothing else, and a 429 pauses the chat for every process.
        """
        ticket = (
            await self.limiter.acquire(chat_id) if wait else await self.limiter.try_acquire(chat_id)
        )
        if ticket is None:
            return None
        try:
            return await self.client.set_message_reaction(chat_id, message_id, emoji)
        except RetryAfter as exc:
            await self._attempts.pause(chat_id, exc)
        except TelegramError as exc:
            log.info("reaction_refused", chat_id=chat_id, error=describe(exc))
        finally:
            await self.limiter.release(ticket)
        return False

    # ---- Bot API calls

    def _send_call(self, chat_id: int, reply_markup: ReplyMarkup | None) -> Call:
        async def call(piece: Piece) -> int:
            message = await self.client.send_message(
                chat_id, piece.text, parse_mode=piece.parse_mode, reply_markup=reply_markup
            )
            return int(message["message_id"])

        return call

    def _edit_call(self, chat_id: int, message_id: int, reply_markup: ReplyMarkup | None) -> Call:
        async def call(piece: Piece) -> int:
            await self.client.edit_message_text(
                chat_id,
                message_id,
                piece.text,
                parse_mode=piece.parse_mode,
                reply_markup=reply_markup,
            )
            return message_id

        return call

    def _draft_call(self, chat_id: int, draft_id: int, can_stop: bool = False) -> Call:
        async def call(piece: Piece) -> None:
            await self.client.send_message_draft(
                chat_id, draft_id, piece.text, parse_mode=piece.parse_mode, can_stop=can_stop
            )

        return call


def _stopped(
    step: Stopped, *, message_ids: tuple[int, ...] = (), resumed_at: int = 0
) -> SendResult:
    return SendResult(
        outcome=step.outcome,
        message_ids=message_ids,
        resumed_at=resumed_at,
        error=step.error,
        transient=step.transient,
        error_code=step.error_code,
    )
