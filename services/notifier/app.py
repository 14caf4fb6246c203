"""The notifier entry point: provisioner:results -> every admin, until SIGTERM.

Each result goes to each admin at most once (``broadcast.AdminBroadcast``:
the send's key is ``provision:{entry id}:{admin}``) and is acknowledged only
once every admin is done with it and the API's admins are known, so a crash
or an outage leaves it pending and the retry sends only what is missing.
With ``PO_CONTRACT=po-service`` it also delivers the PO service's own
messages (``po:proactive``) and tells the admins of those it gives up
(``proactive``). With ``ACCESS_REQUESTS`` on it also sends the admins' cards
of access requests, carries their outcomes and expires them (``access``).
Why each rule: docs/ARCHITECTURE.md (Notifier).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import redis.asyncio as aioredis
import structlog

from services.notifier.access import AccessRequests
from services.notifier.admins import Admins
from services.notifier.backfill import Backfill
from services.notifier.broadcast import AdminBroadcast
from services.notifier.groups import GroupReader
from services.notifier.messages import describe
from services.notifier.proactive import MAX_DELIVERIES, ProactiveAlerts, ProactiveDelivery
from services.notifier.settings import NotifierSettings
from shared import keys
from shared.api import ApiClient
from shared.connections import redis_client
from shared.entrypoint import EXIT_CONFIG
from shared.health import Heartbeat, serve_process_health
from shared.log import get_logger
from shared.metrics import Metrics, entry_age_s
from shared.proactive import decode_proactive
from shared.redis_check import check_redis
from shared.schemas import ProvisionerResult
from shared.sending.sender import Sender
from shared.stopping import install_stop_signals
from shared.streams import DeadLetter, entry_decoder
from shared.texts import RU, Texts, for_language

log = get_logger(__name__)

RETRY_FOREVER = 1_000_000
"""``max_deliveries`` of the admins' streams: only malformed entries are dead-lettered;
one waiting for the API or Telegram to come back is retried for as long as it takes."""


class Notifier:
    """The handler of ``provisioner:results`` entries: each result to every admin."""

    def __init__(
        self, broadcast: AdminBroadcast, texts: Texts = RU, metrics: Metrics | None = None
    ) -> None:
        self._broadcast = broadcast
        self._texts = texts
        self._metrics = metrics or Metrics("notifier")

    async def handle(self, entry_id: str, result: ProvisionerResult) -> None:
        # Every log line about this result, the sender's included, names its request.
        with structlog.contextvars.bound_contextvars(request_id=result.request_id or entry_id):
            await self._handle(entry_id, result)

    async def _handle(self, entry_id: str, result: ProvisionerResult) -> None:
        # Plain text: server names and errors are shown exactly as written.
        text = describe(result, self._texts)
        admins = await self._broadcast.tell(entry_id, f"provision:{entry_id}", text)
        self._metrics.observe_delivery_latency(entry_age_s(entry_id))
        log.info(
            "result_notified",
            entry_id=entry_id,
            server_handle=result.server_handle,
            status=result.status,
            admins=admins,
        )


async def serve(settings: NotifierSettings) -> int:
    stop = asyncio.Event()
    install_stop_signals(stop)
    if (redis_safety := await check_redis(settings)).refused:
        return EXIT_CONFIG
    metrics = Metrics("notifier")
    # Loose on purpose: a handler waiting out a long 429 is working, not stuck.
    heartbeat = Heartbeat(stale_after_s=120)
    redis = redis_client(settings, blocking=True)
    sender = Sender.from_settings(settings, redis, metrics=metrics)
    async with (
        serve_process_health(
            settings, metrics=metrics, heartbeat=heartbeat, warnings=redis_safety.health_warnings
        ),
        ApiClient(
            settings.api_url, settings.internal_api_key, timeout=settings.api_timeout_s
        ) as api,
    ):
        admins = Admins(api, settings.admin_telegram_ids, ttl_s=settings.admins_cache_s)
        broadcast = AdminBroadcast(sender, admins, metrics)
        readers = Readers(settings, redis, heartbeat, metrics)
        # Admins are written to in DEFAULT_LANGUAGE: the API does not say an admin's language.
        admin_texts = for_language(None, settings.default_language)
        notifier = Notifier(broadcast, admin_texts, metrics=metrics)
        groups: list[GroupReader[Any]] = [readers.provisioning(notifier)]
        if settings.po_contract == "po-service":
            groups += readers.proactive(ProactiveDelivery(sender, api, metrics), broadcast)
        loops: list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] = []
        if settings.access_requests:
            access = AccessRequests(
                settings, redis, sender, admins, heartbeat=heartbeat, metrics=metrics
            )
            groups.append(access.reader)
            loops += access.loops()
        log.info(
            "notifier_started",
            consumer=settings.notifier_name,
            streams=[reader.consumer.stream for reader in groups],
            access_requests=settings.access_requests,
        )
        try:
            async with asyncio.TaskGroup() as group:
                for reader in groups:
                    group.create_task(reader.run(stop))
                for loop in loops:
                    group.create_task(loop(stop))
        finally:
            await sender.close()
            await redis.aclose()
    log.info("notifier_stopped")
    return 0


class Readers:
    """Builds the notifier's ``GroupReader``s, one per stream it reads."""

    def __init__(
        self,
        settings: NotifierSettings,
        redis: aioredis.Redis,
        heartbeat: Heartbeat,
        metrics: Metrics,
    ) -> None:
        self._settings = settings
        self._redis = redis
        self._heartbeat = heartbeat
        self._metrics = metrics

    def provisioning(self, notifier: Notifier) -> GroupReader[ProvisionerResult]:
        # A new group starts NOTIFIER_BACKFILL_S back, so results published while
        # the first notifiers were starting are told; older history never is.
        backfill = self._backfill(self._metrics.results_too_old, "result_too_old_skipped")
        return GroupReader(
            self._settings,
            self._redis,
            stream=keys.PROVISIONER_RESULTS,
            group=keys.NOTIFIER_GROUP,
            kind="provisioner_results",
            decode=entry_decoder(ProvisionerResult),
            handler=notifier.handle,
            max_deliveries=RETRY_FOREVER,
            start_id=backfill.start_id,
            expired=backfill.too_old,
            heartbeat=self._heartbeat,
            metrics=self._metrics,
        )

    def proactive(
        self, delivery: ProactiveDelivery, broadcast: AdminBroadcast
    ) -> list[GroupReader[Any]]:
        """``po:proactive`` (given up after its third delivery) and its dead letters' alerts."""
        metrics = self._metrics
        backfill = self._backfill(
            lambda count: metrics.proactive_dropped("too_old", count), "proactive_too_old_skipped"
        )
        messages: GroupReader[Any] = GroupReader(
            self._settings,
            self._redis,
            stream=keys.PO_PROACTIVE,
            group=keys.PROACTIVE_GROUP,
            kind="po_proactive",
            decode=decode_proactive,
            handler=delivery.handle,
            max_deliveries=MAX_DELIVERIES,
            start_id=backfill.start_id,
            expired=backfill.too_old,
            heartbeat=self._heartbeat,
            metrics=metrics,
        )
        alerts = ProactiveAlerts(broadcast, for_language(None, self._settings.default_language))
        # Starts back like the other groups, but never skips a dead letter as too
        # old: one written just before every notifier went down is still told.
        alert_backfill = self._backfill(lambda _count: None, "proactive_alert_too_old")
        told: GroupReader[Any] = GroupReader(
            self._settings,
            self._redis,
            stream=keys.dead_letter(keys.PO_PROACTIVE),
            group=keys.PROACTIVE_ALERTS_GROUP,
            kind="po_proactive_dead",
            decode=entry_decoder(DeadLetter),
            handler=alerts.handle,
            max_deliveries=RETRY_FOREVER,
            start_id=alert_backfill.start_id,
            expired=None,
            heartbeat=self._heartbeat,
            metrics=metrics,
        )
        return [messages, told]

    def _backfill(self, count: Callable[[int], None], event: str) -> Backfill:
        return Backfill(
            self._redis, window_s=self._settings.notifier_backfill_s, count=count, event=event
        )
