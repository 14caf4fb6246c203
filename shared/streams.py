"""Reading a Redis stream through a consumer group: at-least-once, never stuck.

:class:`StreamConsumer` handles each entry and acknowledges it only after
its handler returned, so a crash never loses one; an entry that fails is
retried once idle (``claim_idle_ms`` apart, never a hot loop), and one that
cannot be decoded, fails ``max_deliveries`` times or was trimmed while
pending goes to ``<stream>:dead``, so it never blocks the next. Handlers
must be idempotent (a lost ``XACK`` means the entry is handled again), and
``claim_idle_ms`` must be well above the slowest handler run. The steps of
a run are in ``docs/ARCHITECTURE.md`` (Stream consumers).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any, Generic, NoReturn, TypeVar

import msgspec
import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from shared import keys
from shared.backoff import backoff_delay
from shared.log import get_logger
from shared.schemas import MalformedEntry, decode_entry, encode_entry, utc_now_iso
from shared.stopping import Stopped, pause, until_stopped

__all__ = [
    "DeadLetter",
    "Fields",
    "StreamConsumer",
    "StreamStats",
    "entry_decoder",
]

T = TypeVar("T")

Fields = dict[bytes, bytes]

log = get_logger(__name__)

# redis-py 8's default when a client is built without ``socket_timeout``.
_REDIS_PY_SOCKET_TIMEOUT_S = 5.0


@dataclass
class StreamStats:
    """Counters since the consumer was built; metrics read them."""

    handled: int = 0
    """Entries whose handler succeeded and that were acknowledged."""
    failed: int = 0
    """Handler attempts that raised (one entry can fail several times)."""
    dead_lettered: int = 0
    claimed: int = 0
    """Entries taken over with ``XAUTOCLAIM`` (a dead consumer's, or own retries)."""
    redis_errors: int = 0


class DeadLetter(msgspec.Struct, kw_only=True):
    """What ``<stream>:dead`` holds, JSON in the one ``data`` field (CONTRACTS.md)."""

    stream: str
    entry_id: str
    group: str
    consumer: str
    reason: str
    """``malformed``, ``max_deliveries`` or ``trimmed``."""
    error: str
    deliveries: int
    """From ``XPENDING``; 0 when unknown (an entry ``XAUTOCLAIM`` found trimmed)."""
    fields: dict[str, str]
    """The original fields, empty when the entry was trimmed."""
    timestamp: str = msgspec.field(default_factory=utc_now_iso)


def entry_decoder(type_: type[T]) -> Callable[[Fields], T]:
    """A ``decode`` for entries in the contracts' one-field ``data`` encoding."""

    def decode(fields: Fields) -> T:
        return decode_entry(fields, type_)

    return decode


@dataclass(frozen=True)
class _Entry:
    id: str
    fields: Fields
    """Empty when the entry was trimmed while pending (XADD never writes none)."""
    deliveries: int


class StreamConsumer(Generic[T]):
    """One consumer of ``group`` on ``stream``; see the module docstring.

    ``redis`` must return bytes (``decode_responses=False``). The blocking
    read uses it with ``BLOCK block_ms``, which must stay below the client's
    ``socket_timeout`` (redis-py 8: 5 s by default).
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        stream: str,
        group: str,
        consumer: str,
        decode: Callable[[Fields], T],
        handler: Callable[[str, T], Awaitable[None]],
        start_id: str | Callable[[], Awaitable[str]] = "0",
        block_ms: int = 2_000,
        claim_idle_ms: int = 30_000,
        max_deliveries: int = 5,
        batch: int = 16,
        max_backoff_ms: int = 5_000,
        dead_letter_maxlen: int = 10_000,
        on_turn: Callable[[], None] | None = None,
        on_dead_letter: Callable[[str], None] | None = None,
        expired: Callable[[list[str]], Awaitable[Collection[str]]] | None = None,
    ) -> None:
        if min(block_ms, claim_idle_ms, max_deliveries, batch, max_backoff_ms) < 1:
            raise ValueError("block_ms, claim_idle_ms, max_deliveries, batch, max_backoff_ms >= 1")
        kwargs = redis.connection_pool.connection_kwargs
        if kwargs.get("decode_responses"):
            raise ValueError("StreamConsumer needs a client with decode_responses=False")
        socket_timeout = kwargs.get("socket_timeout", _REDIS_PY_SOCKET_TIMEOUT_S)
        if socket_timeout is not None and block_ms / 1000 >= socket_timeout:
            raise ValueError(
                f"block_ms={block_ms} must stay below the client's socket_timeout "
                f"({socket_timeout} s): a longer BLOCK ends in TimeoutError"
            )
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.stats = StreamStats()
        self._redis = redis
        self._decode = decode
        self._handler = handler
        self._start_id = start_id
        self._block_ms = block_ms
        self._claim_idle_ms = claim_idle_ms
        # Scanning twice per idle period bounds a retry's wait to 1.5 idle periods.
        self._claim_every_s = max(claim_idle_ms / 2, 10) / 1000
        self._max_deliveries = max_deliveries
        self._batch = batch
        self._max_backoff_s = max_backoff_ms / 1000
        self._failures = 0
        """Redis errors in a row: the backoff grows with them."""
        self._dead_stream = keys.dead_letter(stream)
        self._dead_letter_maxlen = dead_letter_maxlen
        # Health and metrics hooks: a turn of the loop (even an idle one), and
        # each entry dead-lettered (with the reason).
        self._on_turn = on_turn or _nothing
        self._on_dead_letter = on_dead_letter or _ignore
        # Of each fresh read's ids, those acknowledged unhandled (too old to
        # matter now). Entries already pending were taken on: always handled.
        self._expired = expired
        self._log = log.bind(stream=stream, group=group, consumer=consumer)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; the entry being handled is finished first.

        Returns promptly once ``stop`` is set: waits on Redis (the blocking
        read, claims, reconnects) are abandoned, never a handler. Redis
        errors are logged and retried with capped backoff; other exceptions
        (bugs) propagate.
        """
        self._log.info("stream_consumer_started")
        while not stop.is_set():
            try:
                await self._session(stop)
            except Stopped:
                break
            except RedisError as exc:
                await self._after_redis_error(exc, stop)
        self._log.info("stream_consumer_stopped")

    async def _after_redis_error(self, exc: RedisError, stop: asyncio.Event) -> None:
        self.stats.redis_errors += 1
        self._failures += 1
        # Restarted consumers do not stampede: the delay has a random half.
        delay = backoff_delay(self._failures, cap_s=self._max_backoff_s)
        if isinstance(exc, ResponseError) and str(exc).startswith("NOGROUP"):
            # Redis restarted empty or someone destroyed the group: the next
            # session recreates it at ``start_id``.
            self._log.warning("stream_group_missing", retry_in_s=round(delay, 2))
        else:
            self._log.warning(
                "stream_redis_error",
                error=type(exc).__name__,
                detail=str(exc),
                retry_in_s=round(delay, 2),
            )
        await pause(stop, delay)

    async def _session(self, stop: asyncio.Event) -> NoReturn:
        """One connected stretch: group, own pending entries, then claim and read forever."""
        await until_stopped(stop, self._ensure_group())
        await self._handle_own_pending(stop)
        next_claim = time.monotonic()
        while True:
            self._on_turn()
            if time.monotonic() >= next_claim:
                await self._claim_idle(stop)
                next_claim = time.monotonic() + self._claim_every_s
            # Never block past the next claim scan; BLOCK 0 would mean forever.
            block_ms = max(1, min(self._block_ms, int((next_claim - time.monotonic()) * 1000)))
            entries = await until_stopped(stop, self._read(">", block_ms))
            # Only a whole claim-and-read round proves Redis usable again: an
            # error recurring later in the round must keep backing off.
            self._recovered()
            entries = await self._drop_expired(stop, entries)
            await self._handle_batch(stop, entries, fresh=True)

    def _recovered(self) -> None:
        if self._failures:
            self._log.info("stream_redis_recovered", failures=self._failures)
            self._failures = 0

    async def _ensure_group(self) -> None:
        start_id = self._start_id if isinstance(self._start_id, str) else await self._start_id()
        try:
            await self._redis.xgroup_create(self.stream, self.group, id=start_id, mkstream=True)
        except ResponseError as exc:
            if not str(exc).startswith("BUSYGROUP"):
                raise
        else:
            self._log.info("stream_group_created", start_id=start_id)

    async def _drop_expired(
        self, stop: asyncio.Event, entries: list[tuple[bytes, Fields]]
    ) -> list[tuple[bytes, Fields]]:
        if self._expired is None or not entries:
            return entries
        ids = [raw_id.decode() for raw_id, _ in entries]
        expired = set(await until_stopped(stop, self._expired(ids)))
        if not expired:
            return entries
        await self._redis.xack(self.stream, self.group, *expired)
        return [entry for entry in entries if entry[0].decode() not in expired]

    async def _handle_own_pending(self, stop: asyncio.Event) -> None:
        """Entries this consumer name read before but never acknowledged, oldest first."""
        after = "0"
        while True:
            entries = await until_stopped(stop, self._read(after, None))
            if not entries:
                return
            await self._handle_batch(stop, entries, fresh=False)
            after = entries[-1][0].decode()

    async def _claim_idle(self, stop: asyncio.Event) -> None:
        start = "0-0"
        while True:
            reply: list[Any] = await until_stopped(
                stop,
                self._redis.xautoclaim(
                    self.stream,
                    self.group,
                    self.consumer,
                    min_idle_time=self._claim_idle_ms,
                    start_id=start,
                    count=self._batch,
                ),
            )
            next_start, claimed = reply[0], reply[1]
            # Redis 7 drops trimmed entries from the PEL itself and lists them.
            trimmed: list[bytes] = reply[2] if len(reply) > 2 else []
            self.stats.claimed += len(claimed)
            for raw_id in trimmed:
                await self._dead_letter(_Entry(raw_id.decode(), {}, 0), "trimmed", "")
            await self._handle_batch(stop, claimed, fresh=False)
            if next_start in (b"0-0", "0-0"):
                return
            start = next_start.decode()

    async def _read(self, after: str, block_ms: int | None) -> list[tuple[bytes, Fields]]:
        # The reply's declared type is a union over protocols; RESP2 gives
        # ``[[stream, [(id, fields), ...]]]``.
        reply: Any = await self._redis.xreadgroup(
            self.group, self.consumer, {self.stream: after}, count=self._batch, block=block_ms
        )
        if not reply:
            return []
        entries: list[tuple[bytes, Fields]] = reply[0][1]
        return entries

    async def _handle_batch(
        self, stop: asyncio.Event, entries: list[tuple[bytes, Fields]], *, fresh: bool
    ) -> None:
        """Handle entries in order; on ``stop`` the rest stay pending for the next run."""
        # Redis 6.2's XAUTOCLAIM answers a trimmed entry with nil, no id.
        entries = [entry for entry in entries if entry[0] is not None]
        if not entries:
            return
        ids = [raw_id.decode() for raw_id, _ in entries]
        deliveries = {} if fresh else await until_stopped(stop, self._deliveries(ids))
        for entry_id, (_, fields) in zip(ids, entries, strict=True):
            if stop.is_set():
                return
            # A fresh ``>`` read is the first delivery by definition.
            await self._process(_Entry(entry_id, fields or {}, deliveries.get(entry_id, 1)))

    async def _deliveries(self, ids: list[str]) -> dict[str, int]:
        """Delivery counts from ``XPENDING``, this read or claim included."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for entry_id in ids:
                pipe.xpending_range(self.stream, self.group, entry_id, entry_id, 1)
            replies: list[list[dict[str, Any]]] = await pipe.execute()
        return {
            row["message_id"].decode(): int(row["times_delivered"])
            for reply in replies
            for row in reply
        }

    async def _process(self, entry: _Entry) -> None:
        if not entry.fields:
            await self._dead_letter(entry, "trimmed", "entry trimmed from the stream while pending")
            return
        if entry.deliveries > self._max_deliveries:
            # Past the limit without a recorded failure: each attempt killed
            # its process (or was cut short), so this entry is poison.
            error = f"delivered {entry.deliveries} times, limit {self._max_deliveries}"
            await self._dead_letter(entry, "max_deliveries", error)
            return
        try:
            await self._handler(entry.id, self._decode(entry.fields))
        except MalformedEntry as exc:
            await self._dead_letter(entry, "malformed", f"MalformedEntry: {exc}")
            return
        except Exception as exc:
            await self._attempt_failed(entry, exc)
            return
        await self._redis.xack(self.stream, self.group, entry.id)
        self.stats.handled += 1

    async def _attempt_failed(self, entry: _Entry, exc: Exception) -> None:
        self.stats.failed += 1
        # The error's type only: its message may quote the user's text.
        self._log.warning(
            "stream_entry_failed",
            entry_id=entry.id,
            attempt=entry.deliveries,
            max_deliveries=self._max_deliveries,
            error=type(exc).__name__,
        )
        if entry.deliveries >= self._max_deliveries:
            await self._dead_letter(entry, "max_deliveries", f"{type(exc).__name__}: {exc}")

    async def _dead_letter(self, entry: _Entry, reason: str, error: str) -> None:
        letter = DeadLetter(
            stream=self.stream,
            entry_id=entry.id,
            group=self.group,
            consumer=self.consumer,
            reason=reason,
            error=error,
            deliveries=entry.deliveries,
            fields={
                name.decode(errors="backslashreplace"): value.decode(errors="backslashreplace")
                for name, value in entry.fields.items()
            },
        )
        # Both or neither: a crash in between must not lose the entry or
        # leave it pending after it was already dead-lettered.
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(
                self._dead_stream,
                encode_entry(letter),  # type: ignore[arg-type]
                maxlen=self._dead_letter_maxlen,
                approximate=True,
            )
            pipe.xack(self.stream, self.group, entry.id)
            await pipe.execute()
        self.stats.dead_lettered += 1
        self._on_dead_letter(reason)
        self._log.warning(
            "stream_entry_dead_lettered",
            entry_id=entry.id,
            reason=reason,
            deliveries=entry.deliveries,
            dead_stream=self._dead_stream,
        )


def _nothing() -> None:
    pass


def _ignore(_reason: str) -> None:
    pass
