"""Chat messages from the ingress: the owned partitions' streams, each strictly in order.

One blocking ``XREAD`` covers every owned ``bot:incoming:{p}`` (plus this
reader's wake stream). A new owner starts after ``bot:fwd:{p}``, which the
forwarding script moves in the same step as it writes the PO input, so it
carries on exactly where the last owner stopped, crash or not; no consumer
group (see the relay's "Incoming" section of ``docs/ARCHITECTURE.md``).
Each partition's entries are handled one at a time, in order; one that
fails is tried again (Redis away: until it works; anything else: up to
``max_attempts``, then dead-lettered) before the next. A part of an album
is gathered with its other parts into one message first
(:mod:`services.relay.albums`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Final, Protocol

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from services.relay import keyspace
from services.relay.albums import Albums, Taken
from services.relay.blocking import (
    Entries,
    Waker,
    abandon,
    read_streams,
    transient,
)
from services.relay.cursors import Advanced, Cursors, dead_letter
from services.relay.partitions import Ownership
from services.relay.sessions import AlbumTaken, Duplicate, Forwarded, Forwarder, Lost
from shared import keys
from shared.backoff import backoff_delay
from shared.connections import text
from shared.log import debug_enabled, get_logger
from shared.metrics import Metrics
from shared.schemas import IncomingMessage, MalformedEntry, decode_entry
from shared.stopping import pause
from shared.streams import Fields

log = get_logger(__name__)
_debug = debug_enabled(__name__)

DRAIN_TIMEOUT_S: Final = 3.0


class Control(Protocol):
    async def handle(self, partition: int, entry_id: str, message: IncomingMessage) -> Lost | None:
        """Act on a control entry (``/stop``, ``/new``) once; ``Lost``: not this relay's."""
        ...


class ForwardListener(Protocol):
    async def forwarded(self, partition: int, message: IncomingMessage, result: Forwarded) -> None:
        """Called after a message reached its PO's input stream."""
        ...

    async def already_forwarded(
        self, partition: int, message: IncomingMessage, result: Duplicate
    ) -> None:
        """Called for a message found forwarded before (by us, maybe unheard, or another)."""
        ...


@dataclass(eq=False)
class _Partition:
    number: int
    position: str
    """The last entry read into ``queue`` (or forwarded, at start)."""
    queue: deque[tuple[str, Fields]] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None
    stopped: asyncio.Event = field(default_factory=asyncio.Event)
    throttled: bool = False
    """Left out of reads while its queue is full; back in once it drained."""
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when entries join ``queue`` (an album being gathered looks again)."""


class IncomingReader:
    """Reads and forwards the owned partitions' messages; see the module docstring."""

    def __init__(
        self,
        redis: aioredis.Redis,
        blocking: aioredis.Redis,
        *,
        identity: str,
        forwarder: Forwarder,
        cursors: Cursors,
        ownership: Ownership,
        listener: ForwardListener,
        control: Control,
        batch: int = 100,
        block_ms: int = 10_000,
        queue_limit: int = 500,
        max_attempts: int = 5,
        album_window_ms: int = 800,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics or Metrics("relay")
        self._redis = redis
        self._blocking = blocking
        self._identity = identity
        self._forwarder = forwarder
        self._cursors = cursors
        self._ownership = ownership
        self._listener = listener
        self._control = control
        self._batch = batch
        self._block_ms = block_ms
        self._queue_limit = queue_limit
        self._max_attempts = max_attempts
        self._parts: dict[int, _Partition] = {}
        self._albums = Albums(redis, identity, window_ms=album_window_ms)
        self._waker = Waker(redis, keyspace.wake(identity, "incoming"))

    @property
    def backlog(self) -> int:
        """Entries read from the owned partitions and not yet forwarded."""
        return sum(len(part.queue) for part in self._parts.values())

    # --- partitions ------------------------------------------------------------

    async def start_partition(self, partition: int) -> None:
        position = await self._redis.get(keyspace.forwarded(partition))
        self._parts[partition] = _Partition(partition, text(position) if position else "0-0")
        await self._waker.wake()

    async def stop_partition(self, partition: int, *, drain: bool) -> None:
        part = self._parts.pop(partition, None)
        if part is None:
            return
        part.stopped.set()
        task = part.task
        if task is None:
            return
        if drain:
            # The entry in hand is finished; the rest stay in the stream for the next owner.
            await asyncio.wait({task}, timeout=DRAIN_TIMEOUT_S)
        if not task.done():
            await abandon(task)

    # --- reading -------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            self._waker.arm()
            issued = {keys.incoming(p.number): p for p in self._parts.values() if not p.throttled}
            streams = {self._waker.stream: self._waker.position}
            streams |= {stream: part.position for stream, part in issued.items()}
            try:
                reply = await read_streams(
                    self._blocking, streams, count=self._batch, block_ms=self._block_ms, stop=stop
                )
            except RedisError as exc:
                self._ownership.redis_failed()
                failures += 1
                _log_read_error(exc, failures)
                await pause(stop, backoff_delay(failures))
                continue
            if failures:
                log.info("incoming_read_recovered", failures=failures)
                failures = 0
            for stream, entries in reply or []:
                if stream == self._waker.stream:
                    self._waker.saw(entries)
                elif (part := issued.get(stream)) is not None:
                    await self._enqueue(part, entries)

    async def _enqueue(self, part: _Partition, entries: Entries) -> None:
        # A partition stopped (and maybe started again) while the read was out:
        # these entries belong to a position that no longer exists.
        if self._parts.get(part.number) is not part or part.stopped.is_set():
            return
        for raw_id, fields in entries:
            part.queue.append((raw_id.decode(), fields))
        part.position = part.queue[-1][0]
        part.arrived.set()
        if len(part.queue) >= self._queue_limit:
            part.throttled = True
        if part.task is None:
            part.task = asyncio.create_task(self._work(part), name=f"incoming-{part.number}")

    # --- handling, in order ------------------------------------------------------------

    async def _work(self, part: _Partition) -> None:
        try:
            while part.queue and not part.stopped.is_set():
                entry_id, fields = part.queue[0]
                await self._handle_until_done(part, entry_id, fields)
                if part.stopped.is_set():
                    return
                part.queue.popleft()
                if part.throttled and len(part.queue) <= self._queue_limit // 2:
                    part.throttled = False
                    await self._waker.wake()
        finally:
            part.task = None

    async def _handle_until_done(self, part: _Partition, entry_id: str, fields: Fields) -> None:
        failures = 0
        """Attempts that failed for good reasons of their own (not Redis being away)."""
        attempts = 0
        error = ""
        while not part.stopped.is_set():
            attempts += 1
            try:
                if failures >= self._max_attempts:
                    await self._dead_letter(part, entry_id, fields, "max_attempts", error)
                else:
                    await self._handle(part, entry_id, fields)
                return
            except RedisError as exc:
                self._ownership.redis_failed()
                if not transient(exc):
                    failures += 1
                    error = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "incoming_entry_retrying",
                    partition=part.number,
                    entry_id=entry_id,
                    error=type(exc).__name__,
                )
            except Exception as exc:
                # A bug, or an entry that breaks something: a few tries, then dead.
                failures += 1
                error = f"{type(exc).__name__}: {exc}"
                log.exception("incoming_entry_failed", partition=part.number, entry_id=entry_id)
            await pause(part.stopped, backoff_delay(attempts))

    async def _handle(self, part: _Partition, entry_id: str, fields: Fields) -> None:
        try:
            message = decode_entry(fields, IncomingMessage)
        except MalformedEntry as exc:
            await self._dead_letter(part, entry_id, fields, "malformed", str(exc))
            return
        if keys.partition_of(message.user_id) != part.number:
            # Forwarding it here would put the user's replies in two partitions.
            error = (
                f"user {message.user_id} belongs to partition {keys.partition_of(message.user_id)}"
            )
            await self._dead_letter(part, entry_id, fields, "wrong_partition", error)
            return
        # Every log line about this message, here and below, names its request.
        request_id = message.request_id or entry_id
        with structlog.contextvars.bound_contextvars(
            request_id=request_id, update_id=message.update_id
        ):
            # A press of a PO's button goes to the PO like a message, in the user's order.
            if message.kind == "message" and message.media_group_id:
                await self._album_part(part, entry_id, message)
            elif message.kind in ("message", "button"):
                await self._forward(part, entry_id, message)
            elif await self._control.handle(part.number, entry_id, message) is not None:
                self._lost(part)

    async def _album_part(self, part: _Partition, entry_id: str, message: IncomingMessage) -> None:
        """A part of an album: skipped if an album message took it, else gathered and sent."""
        taken = await self._albums.taken(part.number, entry_id, message)
        if taken is Taken.LOST:
            self._lost(part)
            return
        if taken is not Taken.NEW:
            log.info(
                "album_part_skipped",
                partition=part.number,
                user_id=message.user_id,
                entry_id=entry_id,
            )
            return
        album = await self._albums.gather(entry_id, message, part.queue, part.arrived, part.stopped)
        if album is not None:
            await self._forward(part, entry_id, album.message, album.taken)

    async def _forward(
        self,
        part: _Partition,
        entry_id: str,
        message: IncomingMessage,
        album: AlbumTaken | None = None,
    ) -> None:
        result = await self._forwarder.forward(part.number, entry_id, message, album)
        if isinstance(result, Lost):
            self._lost(part)
        elif isinstance(result, Duplicate):
            log.info(
                "message_already_forwarded",
                partition=part.number,
                user_id=message.user_id,
                entry_id=entry_id,
            )
            await self._listener.already_forwarded(part.number, message, result)
        else:
            self._metrics.message_forwarded()
            _log_forwarded(part.number, entry_id, message, result)
            await self._listener.forwarded(part.number, message, result)

    async def _dead_letter(
        self, part: _Partition, entry_id: str, fields: Fields, reason: str, error: str
    ) -> None:
        stream = keys.incoming(part.number)
        letter = dead_letter(
            stream, entry_id, fields, consumer=self._identity, reason=reason, error=error
        )
        if await self._cursors.forwarded(part.number, entry_id, letter) is Advanced.LOST:
            self._lost(part)
            return
        self._metrics.dead_letter("incoming")
        log.warning(
            "incoming_dead_lettered",
            partition=part.number,
            entry_id=entry_id,
            reason=reason,
            dead_stream=keys.dead_letter(stream),
        )

    def _lost(self, part: _Partition) -> None:
        part.stopped.set()
        self._ownership.report_lost(part.number)


def _log_forwarded(
    partition: int, entry_id: str, message: IncomingMessage, result: Forwarded
) -> None:
    fields = {"user_id": message.user_id, "worker_id": result.worker_id, "partition": partition}
    if result.spawned:
        log.info("po_spawn_requested", previous_status=result.status or None, **fields)
    log.info("message_forwarded", entry_id=entry_id, input_id=result.input_id, **fields)
    if _debug():
        log.debug("message_forwarded_text", entry_id=entry_id, text=message.text, **fields)


def _log_read_error(exc: RedisError, failures: int) -> None:
    if failures == 1 or failures % 20 == 0:
        log.warning("incoming_read_failed", error=type(exc).__name__, failures=failures)
