"""Durable intake: known users' chat messages and every answer, stored in Redis together.

A message goes to its user's partition, ``bot:incoming:{p}`` (one relay
owns a partition at a time, which keeps each user's messages in order); an
answer goes to ``bot:answers``. :meth:`Intake.store` stores a whole
``IntakeBatch`` by one script call (``store_batch.lua``) before its updates
are confirmed to Telegram, each update at most once (``bot:update:{id}``),
and returns the answers it stored, for the caller to hand to the courier:
an answer never stored is never sent, since Telegram delivers its update
again. The streams are never trimmed here; a partition whose backlog is at
its cap refuses new messages (``IncomingBacklogFull``), so Telegram keeps
them instead of the bot losing them. Design and costs: docs/ARCHITECTURE.md,
"Ingress: the answer path".

With ``min_replicas_ack`` N > 0 (``REDIS_MIN_REPLICAS_ACK``), the script's call
and a ``WAIT N timeout`` go down one connection in one pipeline (``WAIT``
counts the writes of its own connection), and a batch fewer than N replicas
acknowledged raises ``ReplicasShort``: stored on the master, not confirmed.
docs/ARCHITECTURE.md, "Replica acknowledgement (REDIS_MIN_REPLICAS_ACK)".
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Final, NamedTuple

import msgspec
import redis.asyncio as aioredis
from redis.exceptions import RedisError
from redis.typing import EncodableT

from services.ingress.batch import IntakeBatch, PendingMessage, StoredAnswerEntry
from shared import keys, scripts
from shared.backoff import backoff_delay
from shared.connections import text
from shared.log import debug_enabled, get_logger
from shared.metrics import Metrics
from shared.schemas import StoredAnswer
from shared.stopping import pause

log = get_logger(__name__)
_debug_enabled = debug_enabled(__name__)


DEDUPE_PREFIX: Final = "bot:update:"
"""``bot:update:{update_id}``: exists while the update counts as stored."""


_items_encoder = msgspec.json.Encoder()


def dedupe_key(update_id: int) -> str:
    return f"{DEDUPE_PREFIX}{update_id}"


class IncomingBacklogFull(RedisError):
    """A new message would take its partition's stream past its cap: nothing was stored.

    A ``RedisError``, as Redis's own refusal when full (OOM) is, so the
    callers hold the updates unconfirmed the same way: polling retries the
    batch, the webhook answers 503, and Telegram keeps them.
    """

    def __init__(self, streams: Sequence[str]) -> None:
        super().__init__(f"incoming backlog full: {', '.join(streams)}")
        self.streams = tuple(streams)


class ReplicasShort(RedisError):
    """The batch is stored on the master, but fewer than the needed replicas acknowledged it.

    A ``RedisError``, so the callers hold its updates unconfirmed as for any
    Redis failure (polling retries, the webhook answers 503); Telegram sends
    them again and the dedupe makes that store a no-op (which ``WAIT``s again).
    ``stored``: the answers this store put in ``bot:answers``; they are sent
    all the same (nothing else would send them: the redelivery is a duplicate).
    """

    def __init__(self, acked: int, needed: int, stored: list[StoredAnswerEntry]) -> None:
        super().__init__(f"{acked} of {needed} replicas acknowledged the write")
        self.acked = acked
        self.needed = needed
        self.stored = stored


class Intake:
    """Stores ``IntakeBatch``es in ``bot:incoming:{p}`` and ``bot:answers``, each update once.

    Streams are never trimmed here (the relay trims what it forwarded).
    When a message would take its partition's stream past ``backlog_max``
    entries, :meth:`store` raises ``IncomingBacklogFull`` (nothing stored).
    :meth:`store` returns the answers it stored; the caller hands them to
    the courier.
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        dedupe_ttl_s: int = 24 * 60 * 60,
        backlog_max: int = 100_000,
        metrics: Metrics | None = None,
        min_replicas_ack: int = 0,
        wait_timeout_ms: int = 500,
    ) -> None:
        self._metrics = metrics or Metrics("ingress")
        self._min_replicas_ack = min_replicas_ack
        self._wait_timeout_ms = wait_timeout_ms
        self._short = False
        """The last WAIT saw too few replicas: one log line per episode."""
        self._redis = redis
        self._dedupe_ttl_s = dedupe_ttl_s
        self._backlog_max = backlog_max
        self._full: set[str] = set()
        """Streams found at the cap and not stored to since: one log line per episode."""
        self._script = scripts.register(redis, __file__, "store_batch.lua")

    async def store(self, batch: IntakeBatch) -> list[StoredAnswerEntry]:
        """Store every message and answer of ``batch`` once; ``RedisError`` when Redis fails.

        ``IncomingBacklogFull`` (a ``RedisError``) when a partition's backlog is at its cap;
        ``ReplicasShort`` (one too) when stored but not on enough replicas in time.

        Returns the answers stored now, to be sent: those of updates stored
        before are left out (they were answered then).
        """
        if not batch:
            return []
        if batch.answers:
            stored, acked = await self._store_with_answers(batch)
        else:
            results, _, acked = await self._run(_message_items(batch.pending))
            duplicates = _log_stored(batch.pending, results)
            for _ in range(duplicates):
                self._metrics.update_rejected("duplicate")
            stored = []
        self._check_replicas(acked, stored, len(batch))
        return stored

    def _check_replicas(self, acked: int | None, stored: list[StoredAnswerEntry], n: int) -> None:
        """Raise ``ReplicasShort`` when ``WAIT`` (if run) saw fewer replicas than needed."""
        if acked is None:
            return
        needed = self._min_replicas_ack
        if acked >= needed:
            if self._short:
                self._short = False
                log.info("redis_wait_recovered", acked=acked, needed=needed)
            return
        self._metrics.redis_wait_short()
        if not self._short:
            self._short = True
            log.warning(
                "redis_wait_short",
                acked=acked,
                needed=needed,
                timeout_ms=self._wait_timeout_ms,
                updates=n,
                hint="updates stay unconfirmed at Telegram until enough replicas answer",
            )
        raise ReplicasShort(acked, needed, stored)

    async def _store_with_answers(
        self, batch: IntakeBatch
    ) -> tuple[list[StoredAnswerEntry], int | None]:
        updates = _updates_of(batch)
        items = [update.item for update in updates]
        results, answer_ids, acked = await self._run(items)
        stored: list[StoredAnswerEntry] = []
        ids = iter(answer_ids)
        for update, result in zip(updates, results, strict=True):
            if result != 0:
                stored.extend(
                    StoredAnswerEntry(text(next(ids)), answer) for answer in update.answers
                )
        messages = [u.message if u.message is not None else u.update_id for u in updates]
        duplicates = _log_stored(messages, results)
        for _ in range(duplicates):
            self._metrics.update_rejected("duplicate")
        if stored:
            log.info(
                "answers_stored",
                answers=len(stored),
                update_ids=[u.update_id for u, r in zip(updates, results, strict=True) if r != 0],
            )
        return stored, acked

    async def store_until_stored(
        self,
        batch: IntakeBatch,
        stop: asyncio.Event,
        hand_over: Callable[[list[StoredAnswerEntry]], None] | None = None,
    ) -> list[StoredAnswerEntry] | None:
        """Retry ``store`` with capped backoff until it succeeds or ``stop`` is set (None).

        Returns what ``store`` returned. None leaves the batch's updates
        unconfirmed: Telegram delivers them again. The answers a store put in
        Redis before too few replicas acknowledged it (``ReplicasShort``) go to
        ``hand_over`` at once (the retry finds them stored and returns none).

        The polling loop uses this: until the batch is stored its updates
        must not be confirmed, and stalling is the only way to hold them
        (aiogram would move the offset on past a failed handler).
        """
        attempt = 0
        on_master = False  # a store went through, too few replicas acked: not to discard
        while True:
            try:
                stored = await self.store(batch)
            except RedisError as exc:
                attempt += 1
                delay = backoff_delay(attempt)
                if isinstance(exc, ReplicasShort):
                    on_master = True
                    if exc.stored and hand_over is not None:
                        hand_over(exc.stored)
                if not isinstance(exc, IncomingBacklogFull | ReplicasShort):  # once per episode
                    log.warning(
                        "intake_retrying",
                        error=type(exc).__name__,
                        attempt=attempt,
                        updates=len(batch),
                        retry_in_s=round(delay, 2),
                    )
                await pause(stop, delay)
                if stop.is_set():
                    log.warning("intake_abandoned", updates=len(batch))
                    if not on_master:  # a stored update comes again as a duplicate
                        batch.discard()
                    return None
                continue
            if attempt:
                log.info("intake_recovered", attempts=attempt + 1)
            return stored

    async def _run(self, items: Sequence[Sequence[str]]) -> tuple[list[Any], list[Any], int | None]:
        """The script's reply for ``items``: per update a result, the answers' entry ids,
        and how many replicas ``WAIT`` counted (None: not asked for)."""
        waiting = self._min_replicas_ack > 0
        args: list[EncodableT] = [
            self._dedupe_ttl_s,
            self._backlog_max,
            _items_encoder.encode(items),
            keys.ANSWERS,
            "1" if waiting else "0",
        ]
        acked: int | None = None
        if waiting:
            # One connection for both: WAIT counts the writes made on its own connection.
            async with self._redis.pipeline(transaction=False) as pipe:
                await self._script(args=args, client=pipe)
                pipe.wait(self._min_replicas_ack, self._wait_timeout_ms)
                reply, acked = await pipe.execute()
        else:
            reply = await self._script(args=args)
        results, answer_ids, full = reply
        if full:
            raise self._backlog_full([text(stream) for stream in full])
        if self._full:
            self._backlog_drained({item[1] for item in items})
        return results, answer_ids, acked

    def _backlog_full(self, streams: list[str]) -> IncomingBacklogFull:
        new = [stream for stream in streams if stream not in self._full]
        self._full.update(streams)
        self._metrics.set_incoming_backlog_full(len(self._full))
        if new:
            log.error(
                "incoming_backlog_full",
                streams=new,
                cap=self._backlog_max,
                hint="no relay is forwarding: updates stay unconfirmed at Telegram until it does",
            )
        return IncomingBacklogFull(streams)

    def _backlog_drained(self, streams: set[str]) -> None:
        """``streams`` were just stored to: below their cap again."""
        drained = self._full & streams
        if drained:
            self._full -= drained
            self._metrics.set_incoming_backlog_full(len(self._full))
            log.info("incoming_backlog_drained", streams=sorted(drained))


def _message_items(pending: Sequence[PendingMessage]) -> list[tuple[str, str, str]]:
    return [(dedupe_key(item.update_id), item.stream, item.data) for item in pending]


class _Update(NamedTuple):
    update_id: int
    message: PendingMessage | None
    answers: list[StoredAnswer]
    item: list[str]
    """The script's item: dedupe key, stream, message data, answers' data."""


def _updates_of(batch: IntakeBatch) -> list[_Update]:
    """The batch per update, in update order (the order they were handled in)."""
    updates: dict[int, _Update] = {}
    for message in batch.pending:
        key = dedupe_key(message.update_id)
        if message.update_id in updates:
            # One message per update; a second would be a duplicate, as it always was.
            log.warning("update_second_message", update_id=message.update_id)
            continue
        updates[message.update_id] = _Update(
            message.update_id, message, [], [key, message.stream, message.data]
        )
    for pending in batch.answers:
        update = updates.get(pending.update_id)
        if update is None:
            item = [dedupe_key(pending.update_id), "", ""]
            update = updates[pending.update_id] = _Update(pending.update_id, None, [], item)
        update.answers.append(pending.answer)
        update.item.append(pending.data)
    return [updates[update_id] for update_id in sorted(updates)]


def _log_stored(updates: Sequence[PendingMessage | int], replies: Sequence[Any]) -> int:
    """One INFO line per batch (a line per message costs throughput); the duplicates counted.

    ``updates``: each update's message, or its id when it had answers only.
    """
    stored: list[int] = []
    request_ids: list[str] = []
    duplicates: list[int] = []
    debug = _debug_enabled()
    for item, entry_id in zip(updates, replies, strict=True):
        added = entry_id != 0
        if isinstance(item, int):
            if not added:
                duplicates.append(item)
                if debug:
                    log.debug("update_duplicate", update_id=item)
            continue
        (stored if added else duplicates).append(item.update_id)
        if added:
            request_ids.append(item.request_id)
        if debug:
            log.debug(
                "message_queued" if added else "update_duplicate",
                user_id=item.user_id,
                update_id=item.update_id,
                request_id=item.request_id,
                stream=item.stream,
                entry_id=entry_id.decode() if isinstance(entry_id, bytes) else None,
            )
    if stored or duplicates:
        log.info(
            "messages_queued",
            update_ids=stored,
            request_ids=request_ids,
            duplicate_update_ids=duplicates,
        )
    return len(duplicates)
