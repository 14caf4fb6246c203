"""Delivering one user's PO replies: in order, each handled once, none blocking the rest for good.

A task per user with entries waiting (:meth:`ReplyDelivery.work`) takes them
one at a time; the user's reply cursor moves (fenced, in Redis) only once an
entry is handled: sent, previewed, dead-lettered or given up. An entry
Telegram keeps failing on is given up after ``max_attempts`` sends over at
least ``max_age_s``: the user is told in one line, the entry is
dead-lettered, and the user's later replies follow. See the relay's
"Replies" section of ``docs/ARCHITECTURE.md``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

import structlog
from redis.exceptions import RedisError

from services.relay.cancellations import Cancellations
from services.relay.contracts import POContract, POReply
from services.relay.cursors import Advanced, Cursors, dead_letter
from services.relay.failed_sends import FailedSends
from services.relay.languages import ChatLanguages
from services.relay.outbound import Delivery, Outbound, Sent, draft_id_for
from services.relay.partitions import Ownership
from services.relay.reactions import AckReactions
from services.relay.reply_files import ReplyFiles
from shared import keys, po_buttons
from shared.backoff import backoff_delay
from shared.log import debug_enabled, get_logger
from shared.metrics import Metrics, entry_age_s
from shared.schemas import MalformedEntry
from shared.streams import Fields

log = get_logger(__name__)
_debug = debug_enabled(__name__)

QUEUE_LIMIT: Final = 100
"""A user's entries read ahead of their delivery, at most (plus one read's
``batch``): a chat Telegram holds up does not fill the relay's memory."""
MAX_FAILURES: Final = 5
"""Attempts at an entry that raised something unexpected before it is dead-lettered."""


@dataclass(eq=False, slots=True)
class QueuedReply:
    """An output entry read and not yet handled; decoded when first needed."""

    entry_id: str
    fields: Fields
    decoded: POReply | MalformedEntry | None = None

    def reply(self, contract: POContract) -> POReply | MalformedEntry:
        if self.decoded is None:
            try:
                self.decoded = contract.decode_output(self.fields)
            except MalformedEntry as exc:
                self.decoded = exc
        return self.decoded


@dataclass(eq=False, slots=True)
class ReplyUser:
    """One active user of an owned partition, as the reply readers and delivery see them."""

    user_id: int
    partition: int
    chat_id: int | None
    position: str
    """The last output entry read into memory (handled, or waiting in ``queue``)."""
    hot: bool = False
    last_active: float = 0.0
    queue: deque[QueuedReply] | None = None
    """Created when there is something to handle: idle users stay small."""
    task: asyncio.Task[None] | None = None
    removed: bool = False
    held_back: bool = False
    """Left out of reads while ``queue`` is full; back in once it drained."""


@dataclass
class ReplyStats:
    delivered: int = 0
    previews: int = 0
    dead_lettered: int = 0
    retries: int = 0
    given_up: int = 0
    reads: dict[str, int] = field(default_factory=lambda: {"hot": 0, "cold": 0})


@dataclass(slots=True)
class _Trouble:
    """What went wrong so far with the entry at the head of a user's queue."""

    pauses: int = 0
    """Attempts that did not finish, for whatever reason: the backoff's count."""
    sends: FailedSends = field(default_factory=FailedSends)
    """Sends Telegram kept failing on."""
    failures: int = 0
    """Attempts that raised something unexpected."""
    error: str = ""
    error_code: int | None = None

    def send_failed(self, sent: Sent) -> None:
        self.sends.note()
        self.error, self.error_code = sent.error, sent.error_code

    def describe(self) -> str:
        code = f"error_code {self.error_code}: " if self.error_code is not None else ""
        return f"{code}{self.error or 'unknown error'}"


class ReplyDelivery:
    """Hands each entry of a user's queue to Telegram, in order; see the module docstring."""

    def __init__(
        self,
        *,
        identity: str,
        outbound: Outbound,
        cursors: Cursors,
        ownership: Ownership,
        languages: ChatLanguages,
        metrics: Metrics,
        stats: ReplyStats,
        concurrency: int,
        max_attempts: int,
        max_age_s: float,
        resume_reading: Callable[[ReplyUser], Awaitable[None]],
        contract: POContract,
        cancellations: Cancellations,
        reactions: AckReactions,
    ) -> None:
        self._contract = contract
        self._cancellations = cancellations
        self._reactions = reactions
        self._resume_reading = resume_reading
        """Called when a held-back user's queue drained to half: read them again."""
        self._identity = identity
        self._outbound = outbound
        self._cursors = cursors
        self._ownership = ownership
        self._languages = languages
        self._metrics = metrics
        self._stats = stats
        self._slots = asyncio.Semaphore(concurrency)
        self._max_attempts = max_attempts
        self._max_age_s = max_age_s
        self._files = ReplyFiles(outbound, languages)

    async def work(self, user: ReplyUser) -> None:
        """The user's task: handle their queue until it is empty or they are gone."""
        try:
            await self._work(user)
        finally:
            user.task = None

    async def _work(self, user: ReplyUser) -> None:
        trouble = _Trouble()
        while user.queue and not user.removed:
            # Unsure of the lease (a Redis error, a tick late): wait for the
            # next tick rather than send what another relay may be sending.
            if not self._ownership.owns(user.partition):
                if not await self._ownership.confirmed(user.partition):
                    return
                continue
            item = user.queue[0]
            done = await self._attempt(user, item, trouble)
            if done is None:
                continue
            if not done:
                trouble.pauses += 1
                self._stats.retries += 1
                await asyncio.sleep(backoff_delay(trouble.pauses))
                continue
            trouble = _Trouble()
            if user.queue and user.queue[0] is item:
                user.queue.popleft()
            if user.held_back and len(user.queue) <= QUEUE_LIMIT // 2:
                user.held_back = False
                await self._resume_reading(user)
        if user.queue is not None and not user.queue:
            user.queue = None

    async def _attempt(self, user: ReplyUser, item: QueuedReply, trouble: _Trouble) -> bool | None:
        """One try at the entry: done, not done (back off), or None (ask about the lease)."""
        try:
            async with self._slots:
                # Again: the wait for a slot may have outlasted the lease.
                if not self._ownership.owns(user.partition):
                    return None
                if trouble.failures >= MAX_FAILURES:
                    return await self._dead_letter(user, item, "failed", trouble.error)
                return await self._handle(user, item, trouble)
        except RedisError as exc:
            self._ownership.redis_failed()
            log.warning(
                "reply_redis_error",
                user_id=user.user_id,
                partition=user.partition,
                entry_id=item.entry_id,
                error=type(exc).__name__,
            )
        except Exception as exc:
            # A bug, or an entry that breaks something: a few tries, then dead.
            trouble.failures += 1
            trouble.error = f"{type(exc).__name__}: {exc}"
            log.exception(
                "reply_failed",
                user_id=user.user_id,
                partition=user.partition,
                entry_id=item.entry_id,
            )
        return False

    async def _handle(self, user: ReplyUser, item: QueuedReply, trouble: _Trouble) -> bool:
        """Handle one entry; False: not now (Telegram away, lease lost), try it again."""
        reply = item.reply(self._contract)
        if isinstance(reply, MalformedEntry):
            return await self._dead_letter(user, item, "malformed", str(reply))
        if user.chat_id is None:
            return await self._dead_letter(user, item, "no_chat", "the user's chat id is unknown")
        # Every log line of this reply, the sender's included, names its request.
        with structlog.contextvars.bound_contextvars(request_id=reply.request_id or None):
            stopped = await self._cancellations.hidden(user.user_id, reply)
            if stopped is not None:
                return await self._hide(user, item, reply, stopped)
            if reply.silent:
                log.info("reply_silent", user_id=user.user_id, entry_id=item.entry_id)
                return await self._advance(user, item, final=_final(reply))
            if not reply.is_final:
                return await self._preview(user, item, reply, user.chat_id)
            return await self._send(user, item, reply, user.chat_id, trouble)

    async def _hide(self, user: ReplyUser, item: QueuedReply, reply: POReply, stopped: str) -> bool:
        """An entry of a request the user stopped: not shown, counted; its final ends it."""
        final = stopped if reply.is_final else None
        if not await self._advance(user, item, final=final):
            return False
        if final is not None:
            self._cancellations.answered(user.user_id, stopped)
        self._metrics.reply_hidden()
        log.info(
            "reply_hidden",
            user_id=user.user_id,
            entry_id=item.entry_id,
            cancelled_request_id=stopped,
            is_final=reply.is_final,
        )
        return True

    async def _preview(
        self, user: ReplyUser, item: QueuedReply, reply: POReply, chat_id: int
    ) -> bool:
        if _superseded(user, reply, self._contract):
            return True  # a later entry of this reply is waiting: showing this one is pointless
        draft_id = draft_id_for(reply.request_id or item.entry_id)
        if await self._outbound.preview(chat_id, draft_id, reply.text or ""):
            self._stats.previews += 1
        return await self._advance(user, item)

    async def _send(
        self,
        user: ReplyUser,
        item: QueuedReply,
        reply: POReply,
        chat_id: int,
        trouble: _Trouble,
    ) -> bool:
        fields = {"user_id": user.user_id, "partition": user.partition, "entry_id": item.entry_id}
        key = f"reply:{user.user_id}:{item.entry_id}"
        markup = None
        if reply.buttons:  # stored first, a press must find it; a re-send writes the same
            offer_key, offer, markup = po_buttons.offer(user.user_id, item.entry_id, chat_id, reply)
            await self._outbound.keep_buttons(offer_key, offer)
        sent = await self._files.send_reply(chat_id, reply, key=key, reply_markup=markup)
        if sent.delivery is Delivery.RETRY:
            trouble.send_failed(sent)
            if trouble.sends.hopeless(self._max_attempts, self._max_age_s):
                return await self._give_up(user, item, chat_id, trouble)
            log.warning("reply_retrying", attempts=trouble.sends.count, **fields)
            return False
        if sent.delivery is Delivery.GAVE_UP:
            log.warning("reply_undeliverable", error_code=sent.error_code, **fields)
        else:
            self._stats.delivered += 1
            self._metrics.reply_delivered()
            self._metrics.observe_delivery_latency(entry_age_s(item.entry_id))
            log.info("reply_delivered", **fields)
            if _debug():
                log.debug("reply_delivered_text", text=reply.text, **fields)
        return await self._advance(user, item, final=_final(reply))

    async def _give_up(
        self, user: ReplyUser, item: QueuedReply, chat_id: int, trouble: _Trouble
    ) -> bool:
        """Tell the user in one line, then dead-letter the entry: their next replies follow.

        The notice goes first, under a key of its own: a relay that takes the
        entry over before its cursor moved tries it again, and tells no twice.
        """
        key = f"reply-failed:{user.user_id}:{item.entry_id}"
        notice = (await self._languages.texts(chat_id)).reply_failed
        told = await self._outbound.send(chat_id, notice, key=key, markdown=False)
        moved = await self._dead_letter(
            user,
            item,
            "undeliverable",
            trouble.describe(),
            final=_final(item.reply(self._contract)),
            deliveries=trouble.sends.count,
            error_code=trouble.error_code,
            user_told=told.delivery is Delivery.DELIVERED,
        )
        if moved:
            self._stats.given_up += 1
        return moved

    async def _dead_letter(
        self,
        user: ReplyUser,
        item: QueuedReply,
        reason: str,
        error: str,
        *,
        deliveries: int = 1,
        final: str | None = None,
        **log_fields: object,
    ) -> bool:
        stream = self._contract.output_stream(user.user_id)
        letter = dead_letter(
            stream,
            item.entry_id,
            item.fields,
            consumer=self._identity,
            reason=reason,
            error=error,
            deliveries=deliveries,
        )
        moved, acked = await self._cursors.answered(
            user.partition, user.user_id, item.entry_id, letter, final=final
        )
        self._unreact(user, acked)
        if moved is Advanced.LOST:
            self._ownership.report_lost(user.partition)
            return False
        self._stats.dead_lettered += 1
        self._metrics.dead_letter("po_output")
        log.warning(
            "reply_dead_lettered",
            user_id=user.user_id,
            partition=user.partition,
            entry_id=item.entry_id,
            reason=reason,
            dead_stream=keys.dead_letter(stream),
            **log_fields,
        )
        return True

    async def _advance(
        self, user: ReplyUser, item: QueuedReply, *, final: str | None = None
    ) -> bool:
        moved, acked = await self._cursors.answered(
            user.partition, user.user_id, item.entry_id, final=final
        )
        self._unreact(user, acked)
        if moved is Advanced.LOST:
            self._ownership.report_lost(user.partition)
            return False
        return True

    def _unreact(self, user: ReplyUser, acked: int | None) -> None:
        """The request's final reply was handled: its message loses the 👀."""
        if acked is not None and user.chat_id is not None:
            self._reactions.answered(user.chat_id, acked)


def _final(reply: POReply | MalformedEntry) -> str | None:
    """For ``Cursors.replied``: the request a final reply ends ('' : the oldest), else None."""
    if isinstance(reply, MalformedEntry) or not reply.is_final:
        return None
    return reply.request_id or ""


def _superseded(user: ReplyUser, reply: POReply, contract: POContract) -> bool:
    """Whether a later entry of the same reply already waits behind the head of the queue."""
    assert user.queue is not None
    for later in list(user.queue)[1:]:
        other = later.reply(contract)
        if not isinstance(other, MalformedEntry) and other.request_id == reply.request_id:
            return True
    return False
