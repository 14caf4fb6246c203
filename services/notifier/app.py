"""The notifier entry point: provisioner:results -> every admin, until SIGTERM.

Each result goes to each admin at most once (the send's key is
``provision:{entry id}:{admin}``) and is acknowledged only once every admin
is done with it and the API's admins are known, so a crash or an outage
leaves it pending and the retry sends only what is missing. An admin is done
once Telegram took the message, or refused it for good for that chat (403,
or a 400 such as "chat not found"): logged and counted, never retried
forever. Why each rule: docs/ARCHITECTURE.md (Notifier).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from services.notifier.admins import Admins
from services.notifier.backfill import Backfill
from services.notifier.claims import ClaimKeeper
from services.notifier.consumers import ConsumerPruner
from services.notifier.messages import describe
from services.notifier.settings import NotifierSettings
from shared import keys
from shared.api import ApiClient
from shared.connections import redis_client
from shared.health import Heartbeat, serve_process_health
from shared.log import get_logger
from shared.metrics import Metrics, UndeliverableReason, entry_age_s
from shared.schemas import ProvisionerResult
from shared.sending.results import Outcome, SendResult
from shared.sending.sender import Sender
from shared.stopping import install_stop_signals, pause
from shared.streams import StreamConsumer, entry_decoder
from shared.texts import RU, Texts

log = get_logger(__name__)


class DeliveryIncomplete(Exception):
    """Some admin does not have the result yet; the entry stays pending for a retry."""


class Notifier:
    def __init__(
        self, sender: Sender, admins: Admins, texts: Texts = RU, metrics: Metrics | None = None
    ) -> None:
        self._sender = sender
        self._admins = admins
        self._texts = texts
        self._metrics = metrics or Metrics("notifier")

    async def handle(self, entry_id: str, result: ProvisionerResult) -> None:
        # Every log line about this result, the sender's included, names its request.
        with structlog.contextvars.bound_contextvars(request_id=result.request_id or entry_id):
            await self._handle(entry_id, result)

    async def _handle(self, entry_id: str, result: ProvisionerResult) -> None:
        text = describe(result, self._texts)
        admins = await self._admins.current()
        missing = [
            telegram_id
            for telegram_id in admins.telegram_ids
            if not await self._deliver(entry_id, telegram_id, text)
        ]
        if missing or not admins.complete:
            raise DeliveryIncomplete(
                f"{len(missing)} admins failed; API admins known: {admins.complete}"
            )
        self._metrics.observe_delivery_latency(entry_age_s(entry_id))
        log.info(
            "result_notified",
            entry_id=entry_id,
            server_handle=result.server_handle,
            status=result.status,
            admins=len(admins.telegram_ids),
        )

    async def _deliver(self, entry_id: str, telegram_id: int, text: str) -> bool:
        """Whether this admin is done with the result (delivered, or never deliverable)."""
        # Plain text: server names and errors are shown exactly as written.
        sent = await self._sender.send(
            telegram_id, text, key=f"provision:{entry_id}:{telegram_id}", markdown=False
        )
        if sent.delivered:
            if sent.resumed_at < len(sent.message_ids):
                self._metrics.reply_delivered()  # not for one sent by an earlier attempt
            return True
        reason = _undeliverable(sent)
        if reason is None:
            return False
        self._metrics.notification_undeliverable(reason)
        log.warning(
            "admin_unreachable",
            entry_id=entry_id,
            telegram_id=telegram_id,
            reason=reason,
            error=sent.error,
        )
        return True


_BOT_REFUSED = frozenset({401, 404})
"""Telegram's error codes when it refused the bot itself, not the chat: 401 (the token)
or 404 (the API server). Every admin would be refused alike: keep the result."""


def _undeliverable(sent: SendResult) -> UndeliverableReason | None:
    """Why this chat can never get the message, or None when a later retry may work."""
    if sent.outcome is Outcome.BLOCKED:
        return "blocked"
    if sent.outcome is not Outcome.FAILED or sent.transient:
        return None
    if sent.error_code in _BOT_REFUSED:
        return None
    return "rejected"


async def serve(settings: NotifierSettings) -> int:
    stop = asyncio.Event()
    install_stop_signals(stop)
    metrics = Metrics("notifier")
    # Loose on purpose: a handler waiting out a long 429 is working, not stuck.
    heartbeat = Heartbeat(stale_after_s=120)
    redis = redis_client(settings, blocking=True)
    sender = Sender.from_settings(settings, redis, metrics=metrics)
    async with (
        serve_process_health(settings, metrics=metrics, heartbeat=heartbeat),
        ApiClient(
            settings.api_url, settings.internal_api_key, timeout=settings.api_timeout_s
        ) as api,
    ):
        admins = Admins(api, settings.admin_telegram_ids, ttl_s=settings.admins_cache_s)
        notifier = Notifier(sender, admins, metrics=metrics)
        claims = ClaimKeeper(
            redis,
            stream=keys.PROVISIONER_RESULTS,
            group=keys.NOTIFIER_GROUP,
            consumer=settings.notifier_name,
            claim_idle_ms=_claim_idle_ms(settings),
        )
        backfill = Backfill(redis, window_s=settings.notifier_backfill_s, metrics=metrics)
        consumer = _consumer(
            settings, redis, claims.holding(notifier.handle), heartbeat, metrics, backfill
        )
        pruner = ConsumerPruner(
            redis,
            stream=keys.PROVISIONER_RESULTS,
            group=keys.NOTIFIER_GROUP,
            keep=settings.notifier_name,
            idle_s=settings.notifier_stale_consumer_s,
        )
        log.info("notifier_started", consumer=settings.notifier_name)
        # The claims are kept until the consumer returns: on a stop, it finishes
        # the result in hand first, however long that takes.
        consumed = asyncio.Event()
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(_run_then_set(consumer.run(stop), consumed))
                group.create_task(claims.run(consumed))
                group.create_task(report_pending(redis, metrics, stop))
                group.create_task(pruner.run(stop))
        finally:
            await sender.close()
            await redis.aclose()
    log.info("notifier_stopped")
    return 0


def _claim_idle_ms(settings: NotifierSettings) -> int:
    return int(settings.notifier_retry_after_s * 1000)


def _consumer(
    settings: NotifierSettings,
    redis: aioredis.Redis,
    handler: Callable[[str, ProvisionerResult], Awaitable[None]],
    heartbeat: Heartbeat,
    metrics: Metrics,
    backfill: Backfill,
) -> StreamConsumer[ProvisionerResult]:
    return StreamConsumer(
        redis,
        stream=keys.PROVISIONER_RESULTS,
        group=keys.NOTIFIER_GROUP,
        consumer=settings.notifier_name,
        decode=entry_decoder(ProvisionerResult),
        handler=handler,
        # A new group starts NOTIFIER_BACKFILL_S back, so results published while
        # the first notifiers were starting are told; older history never is.
        start_id=backfill.start_id,
        claim_idle_ms=_claim_idle_ms(settings),
        # Only malformed entries are dead-lettered: a result waiting for the
        # API or Telegram to come back is retried for as long as it takes.
        max_deliveries=1_000_000,
        on_turn=heartbeat.beat,
        on_dead_letter=lambda _reason: metrics.dead_letter("provisioner_results"),
        expired=backfill.too_old,
    )


async def _run_then_set(work: Awaitable[None], done: asyncio.Event) -> None:
    try:
        await work
    finally:
        done.set()


PENDING_EVERY_S = 10.0


async def report_pending(redis: aioredis.Redis, metrics: Metrics, stop: asyncio.Event) -> None:
    """The group's pending count (every replica's share) as a gauge, until ``stop``."""
    while not stop.is_set():
        try:
            summary: Any = await redis.xpending(keys.PROVISIONER_RESULTS, keys.NOTIFIER_GROUP)
            metrics.set_stream_pending("provisioner_results", int(summary["pending"]))
        except RedisError as exc:
            # The consumer logs Redis trouble; a missing group just means nothing yet.
            log.debug("pending_unknown", error=type(exc).__name__)
        await pause(stop, PENDING_EVERY_S)
