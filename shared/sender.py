"""The one way the bot sends text to Telegram: budgeted, retried, at most once per key.

Every process (ingress, relay, notifier) sends through a :class:`Sender`, so
all of them spend one flood budget (:mod:`shared.ratelimit`) and handle
Telegram's answers the same way:

* 429: the chat (or, by the limiter's rule, every chat) is paused in every
  process for the full ``retry_after``, however long, and the same message
  is sent again afterwards. 429s are not counted as failures.
* 5xx, undecodable answers (an nginx error page) and network errors: sent
  again after an exponential backoff with jitter, at most
  ``RetryPolicy.attempts`` tries in all; then ``send_failed`` is logged with
  the chat, key, part, method, error and attempts (never the text above
  DEBUG, never the token) and the result says ``failed``.
* 403 (the user blocked the bot): not retried, logged once, ``blocked``; the
  remaining parts are not sent. Other chats are unaffected.
* 400 "can't parse entities": the part is sent again as its plain text
  without ``parse_mode``. Other 400s and 4xx are not retried
  (``send_rejected``, ``failed``); "message is not modified" on an edit is
  success.

At most once per key: a message sent with ``key=`` (a stream entry id, say)
records each part's message id in ``bot:sent:{key}`` (a hash, part index ->
message id, TTL ``sent_ttl_s``) as soon as Telegram accepts it. Sending the
same key again, from this process or another one after a crash, skips the
recorded parts and resumes at the first unsent one. A key stands for one
piece of work (the same text, so the same parts: rendering is
deterministic); two processes working on the same key at the same moment
are not guarded against, the stream's consumer group prevents that.

A part Telegram accepted is delivered, whatever Redis does next. The write
that follows its answer (the flood slot's release and, with a key, the
record under the key: one script, one round trip, both or neither) is
tried again a few times on a Redis error (``record_retry``); if Redis stays
away, ``sent_record_failed`` (``send_release_failed`` without a key) is
logged once for the part, the call goes on as if it had succeeded (the
slot's in-flight mark expires by itself), and the part's message id is
kept in this process (:class:`SentLog`) until Redis takes it: this call
never sends the part again, and neither does a later call with the same
key from this process. Errors raised by Redis *before* a request (loading
the key, taking a slot) propagate: nothing was sent.

Round trips per part: the first part of a keyed message checks that
nothing is recorded under the key in the same script that takes its flood
slot (``FloodLimiter.acquire_unless``; only when something is, the record
is loaded and the send resumes after it), the slot is taken and gated in
one script when it is free now, then the request, then the release with
the record. Three Redis round trips where there were five.

The ambiguous case: a request that left but whose answer never came back (a
timeout, a connection dropped after Telegram processed it; also a 5xx from a
proxy in front of a Telegram that did the work) may or may not have been
delivered, and the Bot API has no idempotency key to ask. We send again: a
reply shown twice is a nuisance, a reply lost is a failure the user cannot
see or repair. The same holds for a process killed between Telegram's
answer and the record in Redis (the answer's way back plus one Redis
write), and for a part whose record never reached Redis when another
process takes the key.

Streaming: :meth:`Sender.preview` shows a draft (``sendMessageDraft``,
private chats) and :class:`LiveReply` streams a reply (drafts in private
chats, one edited preview message in groups), then sends the final text
with ``sendMessage``. Previews take budget only when it is free right now
and never wait or retry.

Within one process, sends to one chat go one message at a time, in call
order, so a message's parts stay together.
"""

from __future__ import annotations

import asyncio
import enum
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgspec
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from shared.formatting.splitting import Part, plain_parts, render_parts
from shared.log import debug_enabled, get_logger
from shared.metrics import Metrics, RetryReason
from shared.ratelimit import FloodBudget, FloodLimiter, Record, Ticket, is_group
from shared.settings import BaseSettings
from shared.telegram import (
    ApiError,
    BadRequest,
    DecodeError,
    Forbidden,
    NetworkError,
    RetryAfter,
    ServerError,
    TelegramClient,
    TelegramError,
)

log = get_logger(__name__)
_DEBUG_ENABLED = debug_enabled(__name__)
"""Whether DEBUG lines are kept: skips building the text-carrying ones that would be dropped."""

ReplyMarkup = Mapping[str, Any]
"""A Bot API ``reply_markup`` as JSON: ``{"inline_keyboard": [[{"text": ..., "callback_data":
...}]]}``, ``{"keyboard": ...}``, ``{"remove_keyboard": True}``, ``{"force_reply": True}``
(see :mod:`shared.telegram`). aiogram markup: ``markup.model_dump(exclude_none=True)``."""

SENT_PREFIX = "bot:sent:"
PREVIEW_PREFIX = "bot:preview:"
SENT_TTL_S = 24 * 60 * 60
"""How long a sent key is remembered: longer than any stream redelivery."""
PREVIEW_TTL_S = 60 * 60

_CANT_PARSE = "can't parse entities"
_NOT_MODIFIED = "message is not modified"
_TRANSIENT = (ServerError, NetworkError, DecodeError)
UNRECORDED_MAX = 10_000
"""Keys whose accepted parts a process keeps while Redis cannot take them."""


class Outcome(enum.StrEnum):
    DELIVERED = "delivered"
    BLOCKED = "blocked"
    """The user blocked the bot (403); nothing more was tried."""
    FAILED = "failed"
    SKIPPED = "skipped"
    """Best-effort only (previews): no budget free right now, nothing sent."""


class SendResult(msgspec.Struct, frozen=True, kw_only=True):
    """What became of one message.

    ``message_ids`` holds the parts Telegram accepted, in order, including
    parts recorded under the key by an earlier attempt; ``resumed_at`` is the
    index of the first part this call had to send (``len(parts)`` when all
    were sent before).
    """

    outcome: Outcome
    message_ids: tuple[int, ...] = ()
    resumed_at: int = 0
    error: str | None = None
    transient: bool = False
    """Failed because Telegram was unreachable or failing (5xx, network, an
    undecodable answer) through every retry: trying later can work."""
    error_code: int | None = None
    """Telegram's ``error_code`` of the answer that stopped it (403, 400, 401...);
    None when Telegram gave none (network, undecodable answer)."""

    @property
    def delivered(self) -> bool:
        return self.outcome is Outcome.DELIVERED


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """Backoff for 5xx and network errors: ``attempts`` tries in all."""

    attempts: int = 5
    base_s: float = 0.5
    cap_s: float = 10.0

    def backoff(self, failures: int) -> float:
        """Delay after the ``failures``-th failure: doubling, capped, half of it random.

        The random half keeps processes that failed together from retrying
        together.
        """
        ceiling = min(self.cap_s, self.base_s * 2.0 ** (failures - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


class Piece(msgspec.Struct, frozen=True):
    """One message's text as sent: ``text`` in ``parse_mode``, and its plain form."""

    text: str
    parse_mode: str | None
    plain: str

    @classmethod
    def html(cls, part: Part) -> Piece:
        return cls(part.html, "HTML", part.plain)

    @classmethod
    def plain_text(cls, text: str) -> Piece:
        return cls(text, None, text)

    def as_plain(self) -> Piece:
        return Piece.plain_text(self.plain)


def pieces(text: str, *, markdown: bool = True) -> list[Piece]:
    """``text`` split into message pieces: rendered Markdown-ish as HTML, or plain."""
    if markdown:
        return [Piece.html(part) for part in render_parts(text)]
    return [Piece.plain_text(part) for part in plain_parts(text)]


@dataclass(frozen=True)
class _Sent:
    message_id: int | None


_ALREADY_SENT: Final = _Sent(None)
"""``_deliver`` with ``unless_sent``: something is recorded under the key, nothing was sent."""


@dataclass(frozen=True)
class _Stopped:
    outcome: Outcome
    error: str
    transient: bool = False
    error_code: int | None = None


class _Step(enum.Enum):
    """What to do after an error answer."""

    PLAIN = enum.auto()
    UNCHANGED = enum.auto()
    BLOCKED = enum.auto()
    BACK_OFF = enum.auto()
    GIVE_UP = enum.auto()


def _classify(exc: TelegramError, piece: Piece) -> _Step:
    if isinstance(exc, Forbidden):
        return _Step.BLOCKED
    if isinstance(exc, BadRequest):
        description = exc.description.lower()
        if _CANT_PARSE in description and piece.parse_mode is not None:
            return _Step.PLAIN
        if _NOT_MODIFIED in description:
            return _Step.UNCHANGED
        return _Step.GIVE_UP
    if isinstance(exc, _TRANSIENT):
        return _Step.BACK_OFF
    return _Step.GIVE_UP


Call = Callable[[Piece], Awaitable[int | None]]
"""One Bot API request for a piece; returns the message id when there is one."""


class SentLog:
    """Which parts of a keyed message Telegram accepted, shared by every process.

    Parts whose record Redis did not take (:meth:`remember`) are kept in this
    process, up to ``UNRECORDED_MAX`` keys for ``ttl_s``, merged into what
    :meth:`load` returns and written to Redis by the next :meth:`load` that
    can.
    """

    def __init__(self, redis: aioredis.Redis, ttl_s: float = SENT_TTL_S) -> None:
        self.redis = redis
        self.ttl_s = ttl_s
        self.ttl_ms = int(ttl_s * 1000)
        self._unrecorded: dict[str, tuple[float, dict[int, int]]] = {}

    @staticmethod
    def redis_key(key: str) -> str:
        return f"{SENT_PREFIX}{key}"

    async def load(self, key: str) -> dict[int, int]:
        """Part index -> message id of every part already sent under ``key``."""
        raw: dict[bytes | str, bytes | str] = await self.redis.hgetall(self.redis_key(key))
        done = {int(index): int(message_id) for index, message_id in raw.items()}
        kept = self.unrecorded(key)
        if not kept:
            return done
        try:
            await self._write(key, kept)
        except RedisError:
            pass  # still kept here; the next load tries again
        else:
            self._unrecorded.pop(key, None)
        return {**kept, **done}

    async def record(self, key: str, index: int, message_id: int) -> None:
        await self._write(key, {index: message_id})

    def remember(self, key: str, index: int, message_id: int) -> None:
        """Keep, in this process, a part Telegram accepted that Redis could not record."""
        parts = self.unrecorded(key)
        parts[index] = message_id
        self._unrecorded.pop(key, None)  # newest last: the oldest are dropped first
        self._unrecorded[key] = (time.monotonic() + self.ttl_s, parts)
        while len(self._unrecorded) > UNRECORDED_MAX:
            self._unrecorded.pop(next(iter(self._unrecorded)))

    def unrecorded(self, key: str) -> dict[int, int]:
        """The parts of ``key`` kept in this process only (a copy)."""
        entry = self._unrecorded.get(key)
        if entry is None:
            return {}
        expires, parts = entry
        if expires <= time.monotonic():
            del self._unrecorded[key]
            return {}
        return dict(parts)

    async def _write(self, key: str, parts: Mapping[int, int]) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.redis_key(key), mapping={str(i): m for i, m in parts.items()})
            pipe.pexpire(self.redis_key(key), self.ttl_ms)
            await pipe.execute()


RECORD_RETRY = RetryPolicy(attempts=3, base_s=0.1, cap_s=1.0)
"""Redis writes after Telegram accepted a part (redis-py retries connection errors too)."""


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
    ) -> None:
        self.client = client
        self.metrics = metrics
        self.redis = redis
        self.limiter = FloodLimiter(redis, budget)
        self.retry = retry or RetryPolicy()
        self.record_retry = record_retry
        self.sent = SentLog(redis, sent_ttl_s)
        self._chat_locks: dict[int, _ChatLock] = {}

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
        """A sender with the settings' budget (``TELEGRAM_RATE_*``) and, unless given, a
        client for ``TELEGRAM_BOT_TOKEN`` at ``TELEGRAM_API_URL``; :meth:`close` it."""
        return cls(
            client if client is not None else TelegramClient.from_settings(settings),
            redis,
            FloodBudget.from_settings(settings),
            retry=retry,
            metrics=metrics,
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
        """Send ``text`` (split into parts as needed) to ``chat_id``, at most once per ``key``."""
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
        async with self._chat_lock(chat_id):
            return await self._send_in_order(chat_id, items, key, reply_markup)

    async def _send_in_order(
        self,
        chat_id: int,
        items: Sequence[Piece],
        key: str | None,
        reply_markup: ReplyMarkup | None,
    ) -> SendResult:
        done: dict[int, int] = {}
        first: _Sent | _Stopped | None = None
        if key is not None and not self.sent.unrecorded(key):
            # Nothing kept here: whether anything was sent under the key is
            # checked in the same step as the first part's flood slot.
            first = await self._deliver(
                chat_id,
                items[0],
                self._send_call(chat_id, reply_markup if len(items) == 1 else None),
                self._context(key, 0, len(items)),
                record=(key, 0),
                unless_sent=True,
            )
            if first is _ALREADY_SENT:
                first = None
                done = await self.sent.load(key)
        elif key is not None:
            done = await self.sent.load(key)
        resumed_at = _first_unsent(done, len(items))
        if resumed_at:
            log.info("send_resumed", chat_id=chat_id, key=key, part=resumed_at, parts=len(items))
        ids = [done[index] for index in range(resumed_at)]
        for index in range(resumed_at, len(items)):
            if index in done:  # a later part recorded while an earlier one was not: keep it
                ids.append(done[index])
                continue
            if first is not None:
                step, first = first, None
            else:
                markup = reply_markup if index == len(items) - 1 else None
                step = await self._deliver(
                    chat_id,
                    items[index],
                    self._send_call(chat_id, markup),
                    self._context(key, index, len(items)),
                    record=None if key is None else (key, index),
                )
            if isinstance(step, _Stopped):
                return SendResult(
                    outcome=step.outcome,
                    message_ids=tuple(ids),
                    resumed_at=resumed_at,
                    error=step.error,
                    transient=step.transient,
                    error_code=step.error_code,
                )
            assert step.message_id is not None  # sendMessage always answers a Message
            ids.append(step.message_id)
        return SendResult(outcome=Outcome.DELIVERED, message_ids=tuple(ids), resumed_at=resumed_at)

    @staticmethod
    def _context(key: str | None, index: int, parts: int) -> dict[str, Any]:
        return {"key": key, "part": index, "parts": parts, "method": "sendMessage"}

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
            step = await self._deliver(chat_id, piece, call, context)
        if isinstance(step, _Stopped):
            return SendResult(
                outcome=step.outcome,
                error=step.error,
                transient=step.transient,
                error_code=step.error_code,
            )
        return SendResult(outcome=Outcome.DELIVERED, message_ids=(message_id,))

    # ---- previews

    async def preview(
        self, chat_id: int, draft_id: int, text: str, *, markdown: bool = True
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
        call = self._draft_call(chat_id, draft_id)
        sent = await self._try_now(chat_id, items[-1], call, "sendMessageDraft")
        return sent is not None

    async def preview_message(
        self, chat_id: int, text: str, *, markdown: bool = True
    ) -> int | None:
        """Send a preview message now if the budget allows; its id, or None if skipped."""
        items = pieces(text, markdown=markdown)
        if not items:
            return None
        call = self._send_call(chat_id, None)
        sent = await self._try_now(chat_id, items[-1], call, "sendMessage")
        return None if sent is None else sent.message_id

    async def preview_edit(
        self, chat_id: int, message_id: int, text: str, *, markdown: bool = True
    ) -> bool:
        """Edit a preview message in place now if the budget allows; whether it changed."""
        items = pieces(text, markdown=markdown)
        if not items:
            return False
        call = self._edit_call(chat_id, message_id, None)
        return await self._try_now(chat_id, items[-1], call, "editMessageText") is not None

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
            if self.metrics is not None:
                self.metrics.telegram_429()
            await self._pause(chat_id, exc)
        except TelegramError as exc:
            log.debug("chat_action_failed", chat_id=chat_id, error=self._detail(exc))
        return False

    def live(
        self, chat_id: int, draft_id: int, *, key: str | None = None, markdown: bool = True
    ) -> LiveReply:
        """A reply streamed into ``chat_id`` while it is written; see :class:`LiveReply`."""
        return LiveReply(self, chat_id, draft_id, key=key, markdown=markdown)

    # ---- one piece, through the budget

    async def _deliver(
        self,
        chat_id: int,
        piece: Piece,
        call: Call,
        context: dict[str, Any],
        *,
        record: tuple[str, int] | None = None,
        unless_sent: bool = False,
    ) -> _Sent | _Stopped:
        """Send one piece until Telegram accepts it, refuses it for good, or retries run out.

        ``record``: the key and part index to record the piece under once
        Telegram accepted it (in the same step as the flood slot's release).
        ``unless_sent``: the first slot is taken only if nothing is recorded
        under that key yet; else nothing is sent and :data:`_ALREADY_SENT`
        comes back.
        """
        failures = 0
        while True:
            if unless_sent and record is not None:
                unless_sent = False
                maybe = await self.limiter.acquire_unless(chat_id, self.sent.redis_key(record[0]))
                if maybe is None:
                    return _ALREADY_SENT
                ticket = maybe
            else:
                ticket = await self.limiter.acquire(chat_id)
            if _DEBUG_ENABLED():
                log.debug("send_text", chat_id=chat_id, text=piece.text, **context)
            answer = await self._request(ticket, call, piece, context, record)
            if isinstance(answer, _Sent):
                return answer
            if isinstance(answer, RetryAfter):
                self._count_retry("retry_after")
                continue  # the pause is in force: the next acquire() waits it out
            step = _classify(answer, piece)
            if step is _Step.PLAIN:
                self._count_retry("plain_fallback")
                log.warning(
                    "send_plain_fallback", chat_id=chat_id, error=self._detail(answer), **context
                )
                piece = piece.as_plain()
            elif step is _Step.UNCHANGED:
                return _Sent(None)
            elif step is _Step.BACK_OFF and failures + 1 < self.retry.attempts:
                failures += 1
                await self._back_off(chat_id, answer, failures, context)
            else:
                return self._stop(chat_id, answer, step, failures + 1, context)

    async def _try_now(self, chat_id: int, piece: Piece, call: Call, method: str) -> _Sent | None:
        """One best-effort request if budget is free now: no waiting, no retries."""
        candidates = [piece] if piece.parse_mode is None else [piece, piece.as_plain()]
        context = {"method": method}
        for candidate in candidates:
            ticket = await self.limiter.try_acquire(chat_id)
            if ticket is None:
                log.debug("preview_skipped", chat_id=chat_id)
                return None
            answer = await self._request(ticket, call, candidate, context)
            if isinstance(answer, _Sent):
                return answer
            if isinstance(answer, RetryAfter):
                return None
            step = _classify(answer, candidate)
            if step is _Step.UNCHANGED:
                return _Sent(None)
            if step is not _Step.PLAIN:
                log.info("preview_failed", chat_id=chat_id, error=self._detail(answer))
                return None
        return None

    async def _request(
        self,
        ticket: Ticket,
        call: Call,
        piece: Piece,
        context: dict[str, Any],
        record: tuple[str, int] | None = None,
    ) -> _Sent | TelegramError:
        """One request on a granted ticket, released whatever happens.

        Telegram's error is returned (a 429 already reported as a pause, before
        the slot is released: no process can slip in between). Once Telegram
        accepted the piece, the release (with the piece's record under
        ``record``'s key, in the same write) is retried, then logged if it
        still fails, never raised; an unrecorded piece is kept in this process.
        """
        try:
            sent = _Sent(await call(piece))
        except RetryAfter as exc:
            if self.metrics is not None:
                self.metrics.telegram_429()
            try:
                await self._pause(ticket.chat_id, exc)
            finally:
                await self.limiter.release(ticket)
            return exc
        except TelegramError as exc:
            await self.limiter.release(ticket)
            return exc
        except BaseException:
            await self.limiter.release(ticket)
            raise
        if record is None or sent.message_id is None:
            await self._after_accepted(
                "send_release_failed",
                lambda: self.limiter.release(ticket),
                chat_id=ticket.chat_id,
                **context,
            )
            return sent
        key, index, message_id = record[0], record[1], sent.message_id
        note = Record(self.sent.redis_key(key), str(index), str(message_id), self.sent.ttl_ms)
        recorded = await self._after_accepted(
            "sent_record_failed",
            lambda: self.limiter.release(ticket, record=note),
            chat_id=ticket.chat_id,
            message_id=message_id,
            **context,
        )
        if not recorded:
            self.sent.remember(key, index, message_id)
        return sent

    async def _after_accepted(
        self, event: str, write: Callable[[], Awaitable[object]], **fields: Any
    ) -> bool:
        """A Redis write after Telegram accepted: retried, then logged once; never raised."""
        failures = 0
        while True:
            try:
                await write()
            except RedisError as exc:
                failures += 1
                if failures >= self.record_retry.attempts:
                    log.error(event, error=type(exc).__name__, attempts=failures, **fields)
                    return False
                await asyncio.sleep(self.record_retry.backoff(failures))
            else:
                return True

    async def _pause(self, chat_id: int, exc: RetryAfter) -> None:
        # Honoured in full, however long: the next acquire() waits out the pause.
        await self.limiter.report_retry_after(chat_id, exc.retry_after)

    async def _back_off(
        self, chat_id: int, exc: TelegramError, failures: int, context: dict[str, Any]
    ) -> None:
        delay = self.retry.backoff(failures)
        self._count_retry(_retry_reason(exc))
        log.warning(
            "send_retrying",
            chat_id=chat_id,
            error=self._detail(exc),
            attempt=failures,
            delay_s=round(delay, 3),
            **context,
        )
        await asyncio.sleep(delay)

    def _count_retry(self, reason: RetryReason) -> None:
        if self.metrics is not None:
            self.metrics.telegram_retry(reason)

    def _stop(
        self,
        chat_id: int,
        exc: TelegramError,
        step: _Step,
        attempts: int,
        context: dict[str, Any],
    ) -> _Stopped:
        detail = self._detail(exc)
        code = exc.error_code if isinstance(exc, ApiError) else None
        if step is _Step.BLOCKED:
            log.warning("send_blocked", chat_id=chat_id, error=detail, **context)
            return _Stopped(Outcome.BLOCKED, detail, error_code=code)
        # Retries ran out (send_failed), or Telegram refused the request as such.
        transient = step is _Step.BACK_OFF
        event = "send_failed" if transient else "send_rejected"
        log.error(event, chat_id=chat_id, error=detail, attempts=attempts, **context)
        return _Stopped(Outcome.FAILED, detail, transient=transient, error_code=code)

    @staticmethod
    def _detail(exc: TelegramError) -> str:
        """The error for a log line: its type and description (no token, no text, no body)."""
        return f"{type(exc).__name__}: {exc}"

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

    def _draft_call(self, chat_id: int, draft_id: int) -> Call:
        async def call(piece: Piece) -> None:
            await self.client.send_message_draft(
                chat_id, draft_id, piece.text, parse_mode=piece.parse_mode
            )

        return call

    def _chat_lock(self, chat_id: int) -> _ChatLock:
        lock = self._chat_locks.get(chat_id)
        if lock is None:
            lock = self._chat_locks[chat_id] = _ChatLock(self._chat_locks, chat_id)
        return lock


class _ChatLock:
    """An asyncio lock per chat, forgotten when nobody holds or waits for it."""

    def __init__(self, registry: dict[int, _ChatLock], chat_id: int) -> None:
        self._registry = registry
        self._chat_id = chat_id
        self._lock = asyncio.Lock()
        self._users = 0

    async def __aenter__(self) -> None:
        self._users += 1
        try:
            await self._lock.acquire()
        except BaseException:
            self._release_user()
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        self._lock.release()
        self._release_user()

    def _release_user(self) -> None:
        self._users -= 1
        if self._users == 0:
            self._registry.pop(self._chat_id, None)


class LiveReply:
    """A reply shown while it is being written, then sent for good.

    ``update(text)`` takes the whole reply so far (a snapshot, not a delta)
    and shows it if the budget is free right now: as a draft in a private
    chat, as one preview message edited in place in a group. ``finish(text)``
    always sends the final text with ``sendMessage`` (never leaving a
    preview as its only copy), then deletes a group's preview message. The
    preview message's id is kept in Redis (``bot:preview:{chat}:{draft}``),
    so a process that takes the work over after a crash edits or deletes
    the same message instead of leaving it behind. Once Telegram showed a
    preview or delivered the final text, a Redis error in that bookkeeping
    is logged, not raised.
    """

    def __init__(
        self,
        sender: Sender,
        chat_id: int,
        draft_id: int,
        *,
        key: str | None = None,
        markdown: bool = True,
    ) -> None:
        if draft_id == 0:
            raise ValueError("draft_id must be non-zero")
        self.sender = sender
        self.chat_id = chat_id
        self.draft_id = draft_id
        self.key = key
        self.markdown = markdown
        self._shown: str | None = None
        self._message_id: int | None = None

    @property
    def redis_key(self) -> str:
        return f"{PREVIEW_PREFIX}{self.chat_id}:{self.draft_id}"

    async def update(self, text: str) -> bool:
        """Show ``text`` now if the budget allows; whether it is on screen."""
        if text == self._shown:
            return True
        if is_group(self.chat_id):
            shown = await self._update_group(text)
        else:
            shown = await self.sender.preview(
                self.chat_id, self.draft_id, text, markdown=self.markdown
            )
        if shown:
            self._shown = text
        return shown

    async def finish(self, text: str, *, reply_markup: ReplyMarkup | None = None) -> SendResult:
        """Send the final ``text`` with ``sendMessage``; then clear a group's preview."""
        result = await self.sender.send(
            self.chat_id, text, key=self.key, markdown=self.markdown, reply_markup=reply_markup
        )
        if result.delivered and is_group(self.chat_id):
            await self._delete_preview()
        return result

    async def _update_group(self, text: str) -> bool:
        message_id = await self._preview_id()
        if message_id is None:
            message_id = await self.sender.preview_message(
                self.chat_id, text, markdown=self.markdown
            )
            if message_id is None:
                return False
            self._message_id = message_id
            try:
                await self.sender.redis.set(self.redis_key, message_id, ex=PREVIEW_TTL_S)
            except RedisError as exc:
                log.warning("preview_record_failed", chat_id=self.chat_id, error=type(exc).__name__)
            return True
        return await self.sender.preview_edit(
            self.chat_id, message_id, text, markdown=self.markdown
        )

    async def _preview_id(self) -> int | None:
        if self._message_id is not None:
            return self._message_id
        raw = await self.sender.redis.get(self.redis_key)
        return None if raw is None else int(raw)

    async def _delete_preview(self) -> None:
        try:
            message_id = await self._preview_id()
        except RedisError as exc:
            log.warning("preview_delete_failed", chat_id=self.chat_id, error=type(exc).__name__)
            return
        if message_id is None:
            return
        try:
            await self.sender.client.delete_message(self.chat_id, message_id)
        except TelegramError as exc:
            # Best effort: the final text is out; a leftover preview is cosmetic.
            log.info("preview_delete_failed", chat_id=self.chat_id, error=type(exc).__name__)
        self._message_id = None
        try:
            await self.sender.redis.delete(self.redis_key)
        except RedisError as exc:
            log.warning("preview_forget_failed", chat_id=self.chat_id, error=type(exc).__name__)


def _first_unsent(done: dict[int, int], count: int) -> int:
    index = 0
    while index < count and index in done:
        index += 1
    return index


__all__ = [
    "RECORD_RETRY",
    "LiveReply",
    "Outcome",
    "Piece",
    "ReplyMarkup",
    "RetryPolicy",
    "SendResult",
    "Sender",
    "SentLog",
    "pieces",
]


def _retry_reason(exc: TelegramError) -> RetryReason:
    if isinstance(exc, NetworkError):
        return "network"
    if isinstance(exc, DecodeError):
        return "bad_response"
    return "server_error"
