"""One consumer group the notifier reads, with everything that looks after it.

A ``GroupReader`` runs, until stop, a ``StreamConsumer`` of the group (it
starts where ``Backfill`` says), the ``ClaimKeeper`` that keeps what it holds
from other replicas (until the consumer has returned: on a stop it first
finishes the entry in hand), the ``ConsumerPruner`` and the group's pending
gauge. The notifier runs one per stream: ``provisioner:results`` always,
``po:proactive`` and ``po:proactive:dead`` with ``PO_CONTRACT=po-service``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection
from typing import Any, Generic, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from services.notifier.claims import ClaimKeeper
from services.notifier.consumers import ConsumerPruner
from services.notifier.settings import NotifierSettings
from shared.health import Heartbeat
from shared.log import get_logger
from shared.metrics import Metrics, StreamKind
from shared.stopping import pause
from shared.streams import Fields, StreamConsumer

T = TypeVar("T")

log = get_logger(__name__)

PENDING_EVERY_S = 10.0


class GroupReader(Generic[T]):
    """Reads ``stream`` in ``group`` as this notifier; see the module docstring."""

    def __init__(
        self,
        settings: NotifierSettings,
        redis: aioredis.Redis,
        *,
        stream: str,
        group: str,
        kind: StreamKind,
        decode: Callable[[Fields], T],
        handler: Callable[[str, T], Awaitable[None]],
        max_deliveries: int,
        start_id: Callable[[], Awaitable[str]],
        expired: Callable[[list[str]], Awaitable[Collection[str]]] | None,
        heartbeat: Heartbeat,
        metrics: Metrics,
    ) -> None:
        claim_idle_ms = int(settings.notifier_retry_after_s * 1000)
        self._redis = redis
        self._stream = stream
        self._group = group
        self._kind: StreamKind = kind
        self._metrics = metrics
        self.claims = ClaimKeeper(
            redis,
            stream=stream,
            group=group,
            consumer=settings.notifier_name,
            claim_idle_ms=claim_idle_ms,
        )
        self.consumer: StreamConsumer[T] = StreamConsumer(
            redis,
            stream=stream,
            group=group,
            consumer=settings.notifier_name,
            decode=decode,
            handler=self.claims.holding(handler),
            start_id=start_id,
            claim_idle_ms=claim_idle_ms,
            max_deliveries=max_deliveries,
            on_turn=heartbeat.beat,
            on_dead_letter=lambda _reason: metrics.dead_letter(kind),
            expired=expired,
        )
        self.pruner = ConsumerPruner(
            redis,
            stream=stream,
            group=group,
            keep=settings.notifier_name,
            idle_s=settings.notifier_stale_consumer_s,
        )

    async def run(self, stop: asyncio.Event) -> None:
        consumed = asyncio.Event()
        async with asyncio.TaskGroup() as group:
            group.create_task(_run_then_set(self.consumer.run(stop), consumed))
            group.create_task(self.claims.run(consumed))
            group.create_task(self._report_pending(stop))
            group.create_task(self.pruner.run(stop))

    async def _report_pending(self, stop: asyncio.Event) -> None:
        """The group's pending count (every replica's share) as a gauge, until ``stop``."""
        while not stop.is_set():
            try:
                summary: Any = await self._redis.xpending(self._stream, self._group)
                self._metrics.set_stream_pending(self._kind, int(summary["pending"]))
            except RedisError as exc:
                # The consumer logs Redis trouble; a missing group just means nothing yet.
                log.debug("pending_unknown", stream=self._stream, error=type(exc).__name__)
            await pause(stop, PENDING_EVERY_S)


async def _run_then_set(work: Awaitable[None], done: asyncio.Event) -> None:
    try:
        await work
    finally:
        done.set()
