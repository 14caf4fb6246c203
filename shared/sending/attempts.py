"""One piece through the flood budget: tried until Telegram accepts it or refuses it for good.

Each attempt takes a flood slot, makes one Bot API request, and releases
the slot whatever happens; once Telegram accepted a keyed piece, the
release also records it under the key (one script: both or neither). Every
attempt at a keyed piece is checked, in the steps that take its slot, for a
record of that piece: another process may have sent it while this one
waited (for its slot, out a 429, through a backoff). A part Telegram
accepted is delivered whatever Redis does next: that write is retried, then
logged, never raised. Errors raised by Redis *before* a request (taking a
slot) propagate: nothing was sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from shared.log import debug_enabled, get_logger
from shared.metrics import Metrics, RetryReason
from shared.ratelimit import Done, FloodLimiter, Record, Ticket
from shared.sending.pieces import Piece
from shared.sending.results import Outcome
from shared.sending.retry import RetryPolicy, Step, classify, describe, retry_reason
from shared.sending.sent_log import SentLog
from shared.telegram import ApiError, RetryAfter, TelegramError

log = get_logger(__name__)
_DEBUG_ENABLED = debug_enabled(__name__)
"""Whether DEBUG lines are kept: skips building the text-carrying ones that would be dropped."""

Call = Callable[[Piece], Awaitable[int | None]]
"""One Bot API request for a piece; returns the message id when there is one."""


@dataclass(frozen=True)
class PartCall:
    """One part of a keyed message: its text (or caption) and the request that sends it."""

    piece: Piece
    call: Call
    method: str = "sendMessage"


@dataclass(frozen=True)
class Sent:
    message_id: int | None
    earlier: bool = False
    """Recorded under its key before this call took a slot: this call sent nothing."""


@dataclass(frozen=True)
class Stopped:
    outcome: Outcome
    error: str
    transient: bool = False
    error_code: int | None = None


class PieceAttempts:
    """Sends one piece within the budget: waiting and retrying, or best effort right now."""

    def __init__(
        self,
        limiter: FloodLimiter,
        sent: SentLog,
        retry: RetryPolicy,
        record_retry: RetryPolicy,
        metrics: Metrics | None,
    ) -> None:
        self.limiter = limiter
        self.sent = sent
        self.retry = retry
        self.record_retry = record_retry
        self.metrics = metrics

    async def deliver(
        self,
        chat_id: int,
        piece: Piece,
        call: Call,
        context: dict[str, Any],
        *,
        record: tuple[str, int] | None = None,
    ) -> Sent | Stopped:
        """Send one piece until Telegram accepts it, refuses it for good, or retries run out.

        ``record``: the key and part index to record the piece under once
        Telegram accepted it (in the same step as the flood slot's release).
        Each attempt then goes only if that part is not recorded yet; if it
        is, nothing is sent and its recorded message id comes back
        (``Sent.earlier``).
        """
        failures = 0
        while True:
            ticket = await self._acquire(chat_id, record)
            if isinstance(ticket, Sent):
                return ticket
            if _DEBUG_ENABLED():
                log.debug("send_text", chat_id=chat_id, text=piece.text, **context)
            answer = await self._request(ticket, call, piece, context, record)
            if isinstance(answer, Sent):
                return answer
            if isinstance(answer, RetryAfter):
                self._count_retry("retry_after")
                continue  # the pause is in force: the next acquire() waits it out
            step = classify(answer, piece)
            if step is Step.PLAIN:
                self._count_retry("plain_fallback")
                log.warning(
                    "send_plain_fallback", chat_id=chat_id, error=describe(answer), **context
                )
                piece = piece.as_plain()
            elif step is Step.UNCHANGED:
                return Sent(None)
            elif step is Step.BACK_OFF and failures + 1 < self.retry.attempts:
                failures += 1
                await self._back_off(chat_id, answer, failures, context)
            else:
                return self._stop(chat_id, answer, step, failures + 1, context)

    async def _acquire(self, chat_id: int, record: tuple[str, int] | None) -> Ticket | Sent:
        """A slot for one attempt; for a keyed part, its record instead if it has one."""
        if record is None:
            return await self.limiter.acquire(chat_id)
        key, index = record
        granted = await self.limiter.acquire_unless(chat_id, self.sent.redis_key(key), str(index))
        if isinstance(granted, Done):
            return Sent(int(granted.value), earlier=True)
        return granted

    async def try_now(self, chat_id: int, piece: Piece, call: Call, method: str) -> Sent | None:
        """One best-effort request if budget is free now: no waiting, no retries."""
        candidates = [piece] if piece.parse_mode is None else [piece, piece.as_plain()]
        context = {"method": method}
        for candidate in candidates:
            ticket = await self.limiter.try_acquire(chat_id)
            if ticket is None:
                log.debug("preview_skipped", chat_id=chat_id)
                return None
            answer = await self._request(ticket, call, candidate, context)
            if isinstance(answer, Sent):
                return answer
            if isinstance(answer, RetryAfter):
                return None
            step = classify(answer, candidate)
            if step is Step.UNCHANGED:
                return Sent(None)
            if step is not Step.PLAIN:
                log.info("preview_failed", chat_id=chat_id, error=describe(answer))
                return None
        return None

    async def pause(self, chat_id: int, exc: RetryAfter) -> None:
        """Telegram answered 429: pause the chat (or every chat) in every process."""
        if self.metrics is not None:
            self.metrics.telegram_429()
        # Honoured in full, however long: the next acquire() waits out the pause.
        await self.limiter.report_retry_after(chat_id, exc.retry_after)

    async def _request(
        self,
        ticket: Ticket,
        call: Call,
        piece: Piece,
        context: dict[str, Any],
        record: tuple[str, int] | None = None,
    ) -> Sent | TelegramError:
        """One request on a granted ticket, released whatever happens.

        Telegram's error is returned (a 429 already reported as a pause, before
        the slot is released: no process can slip in between). Once Telegram
        accepted the piece, the release (with the piece's record under
        ``record``'s key, in the same write) is retried, then logged if it
        still fails, never raised; an unrecorded piece is kept in this process.
        """
        try:
            sent = Sent(await call(piece))
        except RetryAfter as exc:
            try:
                await self.pause(ticket.chat_id, exc)
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

    async def _back_off(
        self, chat_id: int, exc: TelegramError, failures: int, context: dict[str, Any]
    ) -> None:
        delay = self.retry.backoff(failures)
        self._count_retry(retry_reason(exc))
        log.warning(
            "send_retrying",
            chat_id=chat_id,
            error=describe(exc),
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
        step: Step,
        attempts: int,
        context: dict[str, Any],
    ) -> Stopped:
        detail = describe(exc)
        code = exc.error_code if isinstance(exc, ApiError) else None
        if step is Step.BLOCKED:
            log.warning("send_blocked", chat_id=chat_id, error=detail, **context)
            return Stopped(Outcome.BLOCKED, detail, error_code=code)
        # Retries ran out (send_failed), or Telegram refused the request as such.
        transient = step is Step.BACK_OFF
        event = "send_failed" if transient else "send_rejected"
        log.error(event, chat_id=chat_id, error=detail, attempts=attempts, **context)
        return Stopped(Outcome.FAILED, detail, transient=transient, error_code=code)
