"""Everything the relay says to Telegram goes through here: one seam, one implementation.

:class:`Outbound` is what the relay needs (a reply sent at most once per key,
a best-effort preview and "typing…"); :class:`TelegramOutbound` implements it
with ``shared.sending.sender.Sender``, which every process shares (flood budget,
rendering, idempotency keys). No aiogram: the relay never imports it.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from services.relay.fetching import Fetcher
from shared.log import get_logger
from shared.metrics import Metrics
from shared.po_buttons import TTL_S, ButtonOffer, keep
from shared.ratelimit import FloodBudget
from shared.sending.media import FileUpload, file_calls, group_calls
from shared.sending.pieces import ReplyMarkup
from shared.sending.results import Outcome, SendResult
from shared.sending.sender import Sender
from shared.telegram import TelegramClient, TelegramError

log = get_logger(__name__)

TYPING_TIMEOUT_S: Final = 5.0


class Delivery(enum.Enum):
    DELIVERED = "delivered"
    GAVE_UP = "gave_up"
    """It will never go through (the user blocked the bot, Telegram refused the
    text for good, nothing to send): move on."""
    RETRY = "retry"
    """Telegram was unreachable or failing: keep the position and try again later."""


@dataclass(frozen=True, slots=True)
class Sent:
    """What became of one send: the delivery, and why it failed (never the text)."""

    delivery: Delivery
    error: str = ""
    error_code: int | None = None
    """Telegram's ``error_code`` (500, 403...); None when it gave none (network, undecodable)."""


class Outbound(Protocol):
    async def send(
        self,
        chat_id: int,
        text: str,
        *,
        key: str,
        markdown: bool = True,
        reply_markup: ReplyMarkup | None = None,
    ) -> Sent:
        """Send ``text`` (split as needed), at most once per ``key`` across processes;
        ``reply_markup`` goes under the last part."""
        ...

    async def keep_buttons(self, key: str, offer: ButtonOffer) -> None:
        """Store what a PO's buttons stand for, for their presses (``shared.po_buttons``)."""
        ...

    async def preview(self, chat_id: int, draft_id: int, text: str) -> bool:
        """Show ``text`` as a draft if the flood budget is free now; never waits."""
        ...

    async def typing(self, chat_id: int) -> bool:
        """Show "typing…" for about 5 s; best effort, never raises for Telegram errors."""
        ...

    async def react(
        self, chat_id: int, message_id: int, emoji: str | None, *, wait: bool = True
    ) -> bool | None:
        """Set or remove the bot's reaction on a message; best effort, never raises.

        ``wait=False``: only if the flood budget has a slot free now (None: none was).
        """
        ...

    async def note(self, chat_id: int, text: str, reply_markup: ReplyMarkup) -> int | None:
        """Send a short plain-text status message with buttons; its id, None if not sent."""
        ...

    async def edit_note(
        self, chat_id: int, message_id: int, text: str, reply_markup: ReplyMarkup
    ) -> bool:
        """Edit a status message sent by :meth:`note`; whether it changed."""
        ...

    async def delete(self, chat_id: int, message_id: int) -> bool:
        """Delete a message the bot sent; best effort, never raises."""
        ...

    async def send_file(
        self, chat_id: int, file: FileUpload, *, key: str, reply_markup: ReplyMarkup | None = None
    ) -> Sent:
        """Upload one file (its long caption as text after it), at most once per ``key``."""
        ...

    async def send_album(
        self,
        chat_id: int,
        files: Sequence[FileUpload],
        *,
        key: str,
        reply_markup: ReplyMarkup | None = None,
        markup_text: str = "",
    ) -> Sent:
        """2-10 photos and videos as one album, at most once per ``key``."""
        ...

    async def sent_parts(self, key: str) -> set[int]:
        """The parts already sent under ``key`` (by any process)."""
        ...

    async def fetch(self, url: str) -> tuple[bytes, str | None, str | None]:
        """Download a PO's attachment under the fetch guard (:mod:`services.relay.fetching`)."""
        ...

    async def close(self) -> None: ...


def draft_id_for(request_id: str) -> int:
    """A stable, non-zero 31-bit draft id for the reply to one request."""
    digest = hashlib.blake2b(request_id.encode(), digest_size=4).digest()
    return (int.from_bytes(digest, "big") & 0x7FFFFFFF) or 1


class TelegramOutbound:
    """:class:`Outbound` on ``shared.sending.sender.Sender`` (budget, rendering, idempotency)."""

    def __init__(
        self,
        client: TelegramClient,
        redis: aioredis.Redis,
        budget: FloodBudget,
        metrics: Metrics | None = None,
        buttons_ttl_s: int = TTL_S,
        fetch_allow: Iterable[str] = (),
        rich_messages: bool = False,
    ) -> None:
        self._sender = Sender(client, redis, budget, metrics=metrics, rich_messages=rich_messages)
        self._redis = redis
        self._buttons_ttl_s = buttons_ttl_s
        self._fetcher = Fetcher(fetch_allow)

    async def send(
        self,
        chat_id: int,
        text: str,
        *,
        key: str,
        markdown: bool = True,
        reply_markup: ReplyMarkup | None = None,
    ) -> Sent:
        result = await self._sender.send(
            chat_id, text, key=key, markdown=markdown, reply_markup=reply_markup
        )
        return _sent(result)

    async def keep_buttons(self, key: str, offer: ButtonOffer) -> None:
        await keep(self._redis, key, offer, self._buttons_ttl_s)

    async def preview(self, chat_id: int, draft_id: int, text: str) -> bool:
        # The stop button on the draft works like /stop (the ingress queues a cancel).
        return await self._sender.preview(chat_id, draft_id, text, can_stop=True)

    async def typing(self, chat_id: int) -> bool:
        try:
            return await self._sender.chat_action(chat_id, "typing", timeout=TYPING_TIMEOUT_S)
        except RedisError as exc:
            log.debug("typing_failed", chat_id=chat_id, error=type(exc).__name__)
            return False

    async def react(
        self, chat_id: int, message_id: int, emoji: str | None, *, wait: bool = True
    ) -> bool | None:
        try:
            return await self._sender.react(chat_id, message_id, emoji, wait=wait)
        except RedisError as exc:
            log.debug("reaction_failed", chat_id=chat_id, error=type(exc).__name__)
            return False

    async def note(self, chat_id: int, text: str, reply_markup: ReplyMarkup) -> int | None:
        try:
            result = await self._sender.send(
                chat_id, text, markdown=False, reply_markup=reply_markup
            )
        except RedisError as exc:
            log.info("note_failed", chat_id=chat_id, error=type(exc).__name__)
            return None
        delivered = result.outcome is Outcome.DELIVERED and result.message_ids
        return result.message_ids[-1] if delivered else None

    async def edit_note(
        self, chat_id: int, message_id: int, text: str, reply_markup: ReplyMarkup
    ) -> bool:
        try:
            result = await self._sender.edit(
                chat_id, message_id, text, markdown=False, reply_markup=reply_markup
            )
        except RedisError as exc:
            log.info("note_failed", chat_id=chat_id, error=type(exc).__name__)
            return False
        return result.outcome is Outcome.DELIVERED

    async def delete(self, chat_id: int, message_id: int) -> bool:
        try:
            return await self._sender.client.delete_message(chat_id, message_id)
        except TelegramError as exc:
            log.info("delete_failed", chat_id=chat_id, error=type(exc).__name__)
            return False

    async def send_file(
        self, chat_id: int, file: FileUpload, *, key: str, reply_markup: ReplyMarkup | None = None
    ) -> Sent:
        calls = file_calls(self._sender.client, chat_id, file, reply_markup)
        return _sent(await self._sender.send_calls(chat_id, calls, key=key))

    async def send_album(
        self,
        chat_id: int,
        files: Sequence[FileUpload],
        *,
        key: str,
        reply_markup: ReplyMarkup | None = None,
        markup_text: str = "",
    ) -> Sent:
        calls = group_calls(self._sender.client, chat_id, files, reply_markup, markup_text)
        return _sent(await self._sender.send_calls(chat_id, calls, key=key))

    async def sent_parts(self, key: str) -> set[int]:
        return set(await self._sender.sent.load(key))

    async def fetch(self, url: str) -> tuple[bytes, str | None, str | None]:
        return await self._fetcher.fetch(url)

    async def close(self) -> None:
        await self._fetcher.close()
        await self._sender.close()


def _sent(result: SendResult) -> Sent:
    return Sent(delivery_of(result), result.error or "", result.error_code)


def delivery_of(result: SendResult) -> Delivery:
    """What a sender's result means for the reply: done, never, or later.

    The sender has already retried 5xx and network errors a few times; one
    that still failed that way is kept for later (Telegram may be down for a
    while), anything else (blocked, a refused text) is final.
    """
    if result.outcome is Outcome.DELIVERED:
        return Delivery.DELIVERED
    if result.outcome is Outcome.FAILED and result.transient:
        return Delivery.RETRY
    return Delivery.GAVE_UP
