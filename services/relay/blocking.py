"""Blocking multi-stream reads that can be woken up, stopped, and retried after errors.

Each of the relay's readers waits in ONE blocking ``XREAD`` over all the
streams it serves (never one read per user), plus a wake stream of its own:
when the set of streams changes (a user became active, a partition was
acquired) an entry added there ends the block at once and the reader issues
its next read with the new set.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import redis.asyncio as aioredis
from redis.exceptions import BusyLoadingError, ReadOnlyError, RedisError, ResponseError

from shared.log import get_logger

log = get_logger(__name__)

Entries = list[tuple[bytes, dict[bytes, bytes]]]
WAKE_TTL_MS: Final = 60 * 60 * 1000


class Waker:
    """A reader's wake stream: :meth:`wake` ends the reader's current block."""

    def __init__(self, redis: aioredis.Redis, stream: str) -> None:
        self.stream = stream
        self.position = "0-0"
        """The last wake entry the reader saw; it reads the stream after it."""
        self._redis = redis
        self._armed = False

    def arm(self) -> None:
        """Called by the reader just before it builds its next read: wakes count again."""
        self._armed = True

    async def wake(self) -> None:
        """End the reader's block (once per read: later wakes find it already woken)."""
        if not self._armed:
            return
        self._armed = False
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.xadd(self.stream, {"w": "1"}, maxlen=16, approximate=True)
                # Dead relays' wake streams go away by themselves.
                pipe.pexpire(self.stream, WAKE_TTL_MS)
                await pipe.execute()
        except RedisError as exc:
            # The reader's own block time bounds the delay; nothing is lost.
            self._armed = True
            log.debug("wake_failed", stream=self.stream, error=type(exc).__name__)

    def saw(self, entries: Entries) -> None:
        if entries:
            self.position = entries[-1][0].decode()


async def read_streams(
    redis: aioredis.Redis,
    streams: dict[str, str],
    *,
    count: int,
    block_ms: int,
    stop: asyncio.Event,
) -> list[tuple[str, Entries]] | None:
    """``XREAD COUNT count BLOCK block_ms STREAMS ...``; None if ``stop`` was set meanwhile.

    Stopping abandons the read: redis-py drops the connection of a cancelled
    command, and nothing read is lost (positions live in Redis).
    """
    read = asyncio.ensure_future(redis.xread(streams, count=count, block=block_ms))  # type: ignore[arg-type]
    # However this ends (abandoned, failing after a cancel), its error is seen.
    read.add_done_callback(_collect)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({read, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not read.done():
            await abandon(read)
    if not read.done() or read.cancelled():
        return None
    # RESP2: ``[[stream, [(id, fields), ...]], ...]``; the declared type is a union.
    reply: Any = read.result()
    return [(stream.decode(), entries) for stream, entries in reply or []]


async def abandon(task: asyncio.Future[Any], wait_s: float = 1.0) -> None:
    """Cancel ``task`` and wait for it, but not for long.

    On Python 3.11 a cancel that lands while redis-py connects can be
    swallowed (``asyncio.wait_for``), and the command then runs to its end: a
    blocking read for its whole BLOCK. Nobody waits for that; its outcome is
    collected when it comes, so it is not reported as never retrieved (that
    report formats a traceback from a finalizer, at whatever moment the
    garbage collector runs).
    """
    task.cancel()
    await asyncio.wait({task}, timeout=wait_s)
    # A command cancelled mid-read may end with the ConnectionError of its
    # dropped connection instead: collected here, nobody is waiting for it.
    task.add_done_callback(_collect)


def _collect(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


def id_after(a: str, b: str) -> bool:
    """Whether stream id ``a`` comes after ``b`` (``ms-seq``, compared as numbers)."""
    return _id(a) > _id(b)


def _id(value: str) -> tuple[int, int]:
    ms, _, seq = value.partition("-")
    return int(ms), int(seq or 0)


def transient(exc: RedisError) -> bool:
    """Whether trying again later can help: Redis unreachable, loading, or a replica.

    Other error replies (a wrong key type, a script error) will fail the same
    way every time.
    """
    return not isinstance(exc, ResponseError) or isinstance(exc, BusyLoadingError | ReadOnlyError)


Temperature = Literal["hot", "cold"]


@dataclass(eq=False)
class Reader:
    """One blocking read over a set of users' streams, with its wake stream."""

    temperature: Temperature
    waker: Waker
    block_ms: int
    users: set[int] = field(default_factory=set)
    """The users this reader covers."""
    task: asyncio.Task[None] | None = None
