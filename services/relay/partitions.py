"""Turning lease ticks into work: start a partition's work when acquired, stop it when not.

Each tick of :class:`PartitionCoordinator` starts the components' work for
partitions newly held (loaded from Redis; undone on failure, retried next
tick), drops partitions no longer held at once (another relay may already
work on them), and drains then releases those above the fair share. A
component that finds its lease gone reports it (:meth:`report_lost`). On
stop, the relay leaves the live set, then drains and releases everything,
renewing (never acquiring) meanwhile. Why, and the timings: the relay's
"Partitions and leases" section of ``docs/ARCHITECTURE.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from redis.exceptions import RedisError

from services.relay.blocking import abandon
from services.relay.leases import Leases, LeaseView
from shared.log import get_logger
from shared.stopping import pause

log = get_logger(__name__)


class PartitionComponent(Protocol):
    async def start_partition(self, partition: int) -> None:
        """Load the partition's state from Redis and start its work; may raise ``RedisError``."""
        ...

    async def stop_partition(self, partition: int, *, drain: bool) -> None:
        """Stop the partition's work; ``drain``: finish the entries in hand first. Never raises."""
        ...


class Ownership(Protocol):
    def owns(self, partition: int) -> bool: ...

    def report_lost(self, partition: int) -> None: ...

    def redis_failed(self) -> None:
        """A component saw a Redis error: trust no lease until the next tick renews it."""
        ...

    async def confirmed(self, partition: int) -> bool:
        """Wait until ``owns(partition)`` can be answered again; the answer."""
        ...


class PartitionCoordinator:
    """Runs the lease ticks; see the module docstring."""

    def __init__(
        self,
        leases: Leases,
        components: Sequence[PartitionComponent],
        *,
        tick_s: float,
        on_turn: Callable[[], None] | None = None,
    ) -> None:
        self._on_turn = on_turn
        self._leases = leases
        self._components = list(components)
        """In start order; they are stopped in the reverse order."""
        self._tick_s = tick_s
        self._owned: set[int] = set()
        """Started partitions, draining ones included."""
        self._draining: set[int] = set()
        self._starting: set[int] = set()
        """Partitions whose components are being started: work may begin before the last one is."""
        self._lost: set[int] = set()
        self._releases: set[asyncio.Task[None]] = set()
        self._wakeup = asyncio.Event()
        self._ticked = asyncio.Event()
        self._last_tick_sent = 0.0
        self._suspect_since = 0.0
        self._log = log.bind(relay=leases.identity)
        self.ticks_failed = 0

    @property
    def owned(self) -> frozenset[int]:
        return frozenset(self._owned)

    def owns(self, partition: int) -> bool:
        """Whether this relay may still act for ``partition`` (draining included).

        Components stop starting new work for a partition when told to stop
        it; this answers whether the work in hand may go on. After any Redis
        error it answers no until a tick sent after the error renewed the
        leases: Redis may have restarted empty and the lease gone to another
        relay, and a message sent to Telegram cannot be fenced.
        """
        return (
            partition in self._owned
            and partition not in self._lost
            and self._leases.valid()
            and self._last_tick_sent > self._suspect_since
        )

    def redis_failed(self) -> None:
        self._suspect_since = time.monotonic()

    async def confirmed(self, partition: int) -> bool:
        while partition in self._starting or (
            partition in self._owned and partition not in self._lost
        ):
            if self.owns(partition):
                return True
            await self._ticked.wait()
        return False

    def report_lost(self, partition: int) -> None:
        if partition in self._owned and partition not in self._lost:
            self._lost.add(partition)
            self._wakeup.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._turn()
            if self._on_turn is not None:
                self._on_turn()  # health: the lease loop is alive
            self._wakeup.clear()
            await _wait_any((stop, self._wakeup), self._tick_s)
        await self._shutdown()

    async def _turn(self) -> None:
        for partition in sorted(self._lost):
            await self._drop(partition, "fenced")
        self._lost.clear()
        sent_at = time.monotonic()
        try:
            view = await self._leases.tick()
        except RedisError as exc:
            self.redis_failed()
            self._tick_failed(exc)
            return
        if self.ticks_failed:
            self._log.info("lease_tick_recovered", failures=self.ticks_failed)
            self.ticks_failed = 0
        await self._apply(view)
        self._last_tick_sent = sent_at
        self._wake_confirmers()

    def _wake_confirmers(self) -> None:
        """A tick renewed the leases: whoever waits in :meth:`confirmed` asks again."""
        ticked, self._ticked = self._ticked, asyncio.Event()
        ticked.set()

    def _tick_failed(self, exc: RedisError) -> None:
        self.ticks_failed += 1
        if self.ticks_failed == 1 or self.ticks_failed % 10 == 0:
            self._log.warning(
                "lease_tick_failed", error=type(exc).__name__, failures=self.ticks_failed
            )
        if not self._leases.valid() and self._owned:
            # Not renewed for a whole TTL: the leases may be someone else's now.
            for partition in sorted(self._owned):
                self._lost.add(partition)

    async def _apply(self, view: LeaseView) -> None:
        gone = self._owned - view.held
        # Acquired while we thought we owned it: it expired in between, and
        # another relay may have worked on it. Start again from Redis.
        gapped = self._owned & view.acquired
        for partition in sorted(gone | gapped):
            await self._drop(partition, "expired" if partition in gone else "gap")
        for partition in sorted(view.held - self._owned - self._draining):
            await self._start(partition, view)
        self._release_extras(view)

    async def _start(self, partition: int, view: LeaseView) -> None:
        started: list[PartitionComponent] = []
        self._starting.add(partition)
        try:
            for component in self._components:
                await component.start_partition(partition)
                started.append(component)
        except RedisError as exc:
            self._starting.discard(partition)
            # Undo; the lease is still ours, so the next tick starts it again.
            for component in reversed(started):
                await component.stop_partition(partition, drain=False)
            self._log.warning(
                "partition_start_failed", partition=partition, error=type(exc).__name__
            )
            return
        self._starting.discard(partition)
        self._owned.add(partition)
        self._log.info(
            "partition_acquired",
            partition=partition,
            target=view.target,
            live_relays=view.live,
            owned=len(self._owned),
        )

    async def _drop(self, partition: int, reason: str) -> None:
        if partition not in self._owned:
            return
        self._owned.discard(partition)
        for component in reversed(self._components):
            await component.stop_partition(partition, drain=False)
        self._log.warning("partition_lost", partition=partition, reason=reason)

    def _release_extras(self, view: LeaseView) -> None:
        working = sorted(self._owned - self._draining)
        # Above the target: give the highest ones back, drained first, in the background
        # so the ticks (and the renewal of everything else) go on meanwhile.
        for partition in working[max(view.target, 0) :]:
            self._draining.add(partition)
            task = asyncio.create_task(self._release(partition, "rebalance"))
            self._releases.add(task)
            task.add_done_callback(self._releases.discard)

    async def _release(self, partition: int, reason: str) -> None:
        try:
            for component in reversed(self._components):
                await component.stop_partition(partition, drain=True)
            if partition in self._owned:
                with contextlib.suppress(RedisError):
                    await self._leases.release(partition)
                self._owned.discard(partition)
                self._log.info("partition_released", partition=partition, reason=reason)
        finally:
            self._draining.discard(partition)

    async def _shutdown(self) -> None:
        # Out of the live set first: the others' targets drop this relay at
        # their next tick, so each partition is taken as soon as it is released.
        with contextlib.suppress(RedisError):
            await self._leases.leave()
        drained = asyncio.Event()
        renewing = asyncio.create_task(self._renew_until(drained), name="relay-lease-renewal")
        try:
            stopping = [self._release(p, "stopping") for p in sorted(self._owned - self._draining)]
            self._draining |= self._owned
            # With the rebalance releases already under way, all at once: a stop
            # takes the longest drain (about 11 s), within the 15 s grace period.
            await asyncio.gather(*self._releases, *stopping, return_exceptions=True)
        finally:
            drained.set()  # ends the loop even if the cancel below were lost
            await abandon(renewing)

    async def _renew_until(self, drained: asyncio.Event) -> None:
        """Renew (never acquire) every tick while draining; leases a renewal misses are lost."""
        while not drained.is_set():
            sent_at = time.monotonic()
            try:
                view = await self._leases.tick(acquire=False)
            except RedisError as exc:
                self.redis_failed()
                self._tick_failed(exc)
            else:
                self._lost |= self._owned - view.renewed
                self._last_tick_sent = sent_at
                self._wake_confirmers()
            await pause(drained, self._tick_s)


async def _wait_any(events: Sequence[asyncio.Event], timeout: float) -> None:
    """Until one of ``events`` is set, or ``timeout`` seconds."""
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
