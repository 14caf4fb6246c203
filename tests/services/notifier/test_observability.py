"""A real notifier process seen from outside: /healthz and /metrics on METRICS_PORT."""

from __future__ import annotations

import aiohttp
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

from services.fakes.redis_server import free_port
from services.fakes.telegram import Failure, FakeTelegram
from shared import keys
from tests.plugins.processes import StartService
from tests.processes import ServiceProcess
from tests.services.notifier.test_backfill import HOUR_MS, publish_at, redis_now_ms
from tests.services.notifier.test_notifier import (
    ADMIN,
    ENV_ADMIN,
    FAST,
    publish,
    success,
)


def samples(page: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a /metrics page, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(page)
        for sample in family.samples
    }


def value(page: str, name: str, **labels: str) -> float:
    return samples(page)[(name, frozenset({"service": "notifier", **labels}.items()))]


async def start_observed(
    start_service: StartService, *, group_made: str = "stream_group_created"
) -> tuple[ServiceProcess, str]:
    """A notifier serving /healthz and /metrics, its group ready; and its base URL."""
    port = free_port()
    env = {**FAST, "ADMIN_TELEGRAM_IDS": f"{ENV_ADMIN},{ADMIN}", "METRICS_PORT": str(port)}
    process = start_service("notifier", name="notifier-m", **env)
    await process.wait_for_event(group_made, timeout=30)
    await process.wait_for_event("health_listening", timeout=10)
    return process, f"http://127.0.0.1:{port}"


async def metrics_page(base: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(f"{base}/metrics") as page:
        return await page.text()


async def test_a_notifier_reports_health_and_counts_deliveries_and_dead_letters(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    process, base = await start_observed(start_service)

    await publish(redis, success("srv-1"))
    await redis.xadd(keys.PROVISIONER_RESULTS, {"data": "{not json"})
    await fake_telegram.wait_for_messages(ADMIN, 1, timeout=20)
    await fake_telegram.wait_for_messages(ENV_ADMIN, 1, timeout=20)
    await process.wait_for_event("stream_entry_dead_lettered", timeout=20)

    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/healthz") as health:
            assert health.status == 200, await health.text()
        async with http.get(f"{base}/metrics") as page:
            metrics = await page.text()
    assert value(metrics, "telegram_bot_replies_delivered_total") == 2
    assert value(metrics, "telegram_bot_delivery_latency_seconds_count") == 1
    assert value(metrics, "telegram_bot_dead_letters_total", stream_kind="provisioner_results") == 1
    assert fake_telegram.token not in metrics


async def test_a_notifier_counts_admins_it_can_never_reach_by_reason(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    fake_telegram.block(ADMIN)
    chat_not_found = Failure.error(400, "Bad Request: chat not found")
    fake_telegram.fail_next("sendMessage", chat_not_found, chat_id=ENV_ADMIN)
    process, base = await start_observed(start_service)

    await publish(redis, success("srv-1"))

    # Counted before it is logged.
    await process.wait_for_event(
        "admin_unreachable", lambda e: e["telegram_id"] == ENV_ADMIN, timeout=20
    )
    metrics = await metrics_page(base)
    name = "telegram_bot_notifications_undeliverable_total"
    assert value(metrics, name, reason="blocked") == 1
    assert value(metrics, name, reason="rejected") == 1
    assert value(metrics, "telegram_bot_replies_delivered_total") == 0


async def test_a_notifier_counts_results_too_old_to_tell(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    now_ms = await redis_now_ms(redis)
    for i in range(3):
        await publish_at(redis, now_ms - 2 * HOUR_MS + i, success(f"srv-old-{i}"))
    await redis.xgroup_create(keys.PROVISIONER_RESULTS, keys.NOTIFIER_GROUP, id="0")

    # Counted before it is logged.
    _process, base = await start_observed(start_service, group_made="result_too_old_skipped")

    metrics = await metrics_page(base)
    assert value(metrics, "telegram_bot_results_too_old_total") == 3
    assert value(metrics, "telegram_bot_replies_delivered_total") == 0
    assert fake_telegram.calls_to("sendMessage") == []
