"""Long polling with exact control of what is confirmed to Telegram.

aiogram's ``start_polling`` is not used: it moves the offset past an update
whose handler failed, and it retries every error forever, 409 Conflict
included. This loop:

1. asks ``getUpdates`` with the offset of everything already stored;
2. handles the batch (``UpdateProcessor``): chat messages and answers
   gathered, nothing sent;
3. stores the gathered messages and answers in Redis, retrying with
   backoff for as long as Redis fails (the process stays up, the batch
   stays unconfirmed); the answers stored are handed to the courier and
   go out in the background from here on;
4. only then moves the offset, which the next ``getUpdates`` confirms.
   With ``REDIS_MIN_REPLICAS_ACK`` N > 0, "stored" means N replicas
   acknowledged it (``WAIT``): a batch stored on the master alone is retried
   (its answers are sent already), the offset held (docs/ARCHITECTURE.md,
   "Replica acknowledgement").

A crash anywhere before step 4 means Telegram delivers the batch again, and
the intake's dedupe forwards each message once and answers each update
once; a crash after it leaves the answers not yet sent in Redis, for the
next ingress to send. SIGTERM while waiting for Telegram abandons that
request (nothing is confirmed by it); SIGTERM while Redis is failing gives
up the batch unconfirmed, its answers unsent.

409 Conflict (another poller, or a webhook is set) ends the process with
``EXIT_CONFLICT``: polling is one replica, and a webhook is not deleted
here, because that would silently steal traffic from a webhook deployment.
A rejected token (401) ends it with ``EXIT_UNAUTHORIZED``. Anything else
from Telegram is retried with backoff.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Final

from aiogram import Bot
from aiogram.exceptions import (
    AiogramError,
    TelegramConflictError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.methods.base import TelegramMethod

from services.ingress.courier import Courier
from services.ingress.intake import Intake
from services.ingress.updates import UpdateProcessor, update_id_of
from shared.backoff import backoff_delay
from shared.log import get_logger
from shared.stopping import Stopped, pause, until_stopped

log = get_logger(__name__)


EXIT_CONFLICT: Final = 3
EXIT_UNAUTHORIZED: Final = 4
_REQUEST_SLACK_S: Final = 10
"""How much longer than the long-poll timeout one getUpdates request may take."""


class RawGetUpdates(TelegramMethod[list[Any]]):
    """``getUpdates`` answered as raw dicts, so each update is validated on its own."""

    __returning__ = list[Any]
    __api_method__ = "getUpdates"

    offset: int | None = None
    limit: int | None = None
    timeout: int | None = None
    allowed_updates: list[str] | None = None


class Poller:
    def __init__(
        self,
        bot: Bot,
        processor: UpdateProcessor,
        intake: Intake,
        courier: Courier,
        *,
        timeout_s: int,
        allowed_updates: list[str],
        on_turn: Callable[[], None] | None = None,
    ) -> None:
        self._on_turn = on_turn
        self._bot = bot
        self._processor = processor
        self._intake = intake
        self._courier = courier
        self._timeout_s = timeout_s
        self._allowed_updates = allowed_updates
        self._offset: int | None = None

    async def run(self, stop: asyncio.Event) -> int:
        """Poll until ``stop`` is set (0) or Telegram says we must not (non-zero)."""
        log.info("polling_started", timeout_s=self._timeout_s)
        attempt = 0
        while not stop.is_set():
            if self._on_turn is not None:
                self._on_turn()  # health: the polling loop is alive
            try:
                raws = await until_stopped(stop, self._fetch())
            except Stopped:
                break
            except TelegramConflictError as exc:
                _log_conflict(exc)
                return EXIT_CONFLICT
            except TelegramUnauthorizedError:
                log.error("polling_unauthorized", hint="TELEGRAM_BOT_TOKEN was rejected")
                return EXIT_UNAUTHORIZED
            except (AiogramError, TimeoutError) as exc:
                attempt += 1
                await _pause_after(exc, attempt, stop)
                continue
            attempt = 0
            if raws and not await self._handle(raws, stop):
                break
        log.info("polling_stopped")
        return 0

    async def _fetch(self) -> list[Any]:
        method = RawGetUpdates(
            offset=self._offset, timeout=self._timeout_s, allowed_updates=self._allowed_updates
        )
        return await self._bot(method, request_timeout=self._timeout_s + _REQUEST_SLACK_S)

    async def _handle(self, raws: Sequence[Any], stop: asyncio.Event) -> bool:
        """Handle and store one batch; move the offset past it only once it is stored."""
        batch = await self._processor.handle(raws)
        stored = await self._intake.store_until_stored(batch, stop, self._courier.queue)
        if stored is None:
            return False
        self._courier.queue(stored)  # sent in the background from here on
        ids = [i for i in map(update_id_of, raws) if i is not None]
        if ids:
            self._offset = max(max(ids) + 1, self._offset or 0)
        return True


def _log_conflict(exc: TelegramConflictError) -> None:
    if "webhook" in exc.message.lower():
        hint = (
            "a webhook is set for this bot: run INGRESS_MODE=webhook, or delete the "
            "webhook (deleteWebhook) if polling is really intended"
        )
    else:
        hint = "another process polls with this token: run exactly one polling ingress"
    log.error("polling_conflict", detail=exc.message, hint=hint)


async def _pause_after(exc: BaseException, attempt: int, stop: asyncio.Event) -> None:
    if isinstance(exc, TelegramRetryAfter):
        delay = float(exc.retry_after)
    else:
        delay = backoff_delay(attempt, first_s=0.5, cap_s=30.0)
    # The type only: aiogram's messages for network errors can carry the URL, token included.
    log.warning("polling_failed", error=type(exc).__name__, attempt=attempt, retry_in_s=delay)
    await pause(stop, delay)
