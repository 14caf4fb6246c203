"""Metrics: the documented names, low-cardinality labels, and /metrics over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import aiohttp
import pytest
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from services.fakes.redis_server import free_port
from shared.health import serve_health
from shared.metrics import DELIVERY_LATENCY_BUCKETS, Metrics, entry_age_s

COUNTERS = {
    "telegram_bot_updates_received_total",
    "telegram_bot_updates_rejected_total",
    "telegram_bot_messages_forwarded_total",
    "telegram_bot_replies_delivered_total",
    "telegram_bot_telegram_429_total",
    "telegram_bot_telegram_retries_total",
    "telegram_bot_dead_letters_total",
    "telegram_bot_results_too_old_total",
    "telegram_bot_proactive_dropped_total",
}
LOW_CARDINALITY_LABELS = {"service", "kind", "reason", "stream_kind", "action", "le"}


def samples(text: str) -> list[Sample]:
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def value(metrics: Metrics, name: str, **labels: str) -> float:
    """The one sample called ``name`` whose labels include ``labels``."""
    found = [
        sample.value
        for sample in samples(metrics.exposition().decode())
        if sample.name == name and labels.items() <= sample.labels.items()
    ]
    assert len(found) == 1, f"{name} {labels}: {found}"
    return found[0]


@pytest.fixture
def metrics() -> Metrics:
    return Metrics("relay")


def test_every_documented_metric_is_exposed_before_anything_is_counted(metrics: Metrics) -> None:
    metrics.set_stream_pending("incoming", 0)
    names = {sample.name for sample in samples(metrics.exposition().decode())}
    assert names >= COUNTERS
    assert "telegram_bot_stream_pending" in names
    assert "telegram_bot_delivery_latency_seconds_bucket" in names


def test_a_counter_increment_shows_up_in_the_exposition(metrics: Metrics) -> None:
    metrics.message_forwarded()
    metrics.message_forwarded(2)
    assert value(metrics, "telegram_bot_messages_forwarded_total") == 3


def test_a_labelled_counter_counts_each_label_value_apart(metrics: Metrics) -> None:
    metrics.update_rejected("stranger")
    metrics.update_rejected("stranger")
    metrics.update_rejected("duplicate")
    name = "telegram_bot_updates_rejected_total"
    assert value(metrics, name, reason="stranger") == 2
    assert value(metrics, name, reason="duplicate") == 1
    assert value(metrics, name, reason="malformed") == 0


def test_every_series_carries_the_process_as_its_service_label() -> None:
    metrics = Metrics("notifier")
    ours = [s for s in samples(metrics.exposition().decode()) if s.name.startswith("telegram_bot_")]
    assert ours
    assert {sample.labels["service"] for sample in ours} == {"notifier"}


def test_no_label_could_hold_a_user_a_chat_or_a_token(metrics: Metrics) -> None:
    metrics.set_stream_pending("po_output", 3)
    metrics.observe_delivery_latency(0.2)
    ours = [s for s in samples(metrics.exposition().decode()) if s.name.startswith("telegram_bot_")]
    assert set().union(*(sample.labels for sample in ours)) <= LOW_CARDINALITY_LABELS


def test_an_update_type_telegram_does_not_have_is_counted_as_other(metrics: Metrics) -> None:
    metrics.update_received("message")
    metrics.update_received("user 12345 wrote")
    name = "telegram_bot_updates_received_total"
    assert value(metrics, name, kind="message") == 1
    assert value(metrics, name, kind="other") == 1


def test_a_label_value_outside_its_closed_list_is_counted_as_other(metrics: Metrics) -> None:
    metrics.dead_letter(cast(Any, "worker:po:12345:output"))
    assert value(metrics, "telegram_bot_dead_letters_total", stream_kind="other") == 1
    text = metrics.exposition().decode()
    assert "12345" not in text


def test_the_stream_pending_gauge_holds_the_last_value_set(metrics: Metrics) -> None:
    metrics.set_stream_pending("incoming", 7)
    metrics.set_stream_pending("incoming", 2)
    assert value(metrics, "telegram_bot_stream_pending", stream_kind="incoming") == 2


def test_delivery_latency_buckets_run_from_1_ms_to_30_s(metrics: Metrics) -> None:
    assert DELIVERY_LATENCY_BUCKETS[0] == 0.001
    assert DELIVERY_LATENCY_BUCKETS[-1] == 30.0
    metrics.observe_delivery_latency(0.004)
    name = "telegram_bot_delivery_latency_seconds_bucket"
    assert value(metrics, name, le="0.0025") == 0
    assert value(metrics, name, le="0.005") == 1
    assert value(metrics, name, le="+Inf") == 1


def test_a_negative_latency_from_clock_skew_counts_as_zero(metrics: Metrics) -> None:
    metrics.observe_delivery_latency(-0.5)
    assert value(metrics, "telegram_bot_delivery_latency_seconds_sum") == 0
    assert value(metrics, "telegram_bot_delivery_latency_seconds_bucket", le="0.001") == 1


def test_two_processes_in_one_interpreter_count_apart() -> None:
    first, second = Metrics("relay"), Metrics("relay")
    first.telegram_429()
    assert value(first, "telegram_bot_telegram_429_total") == 1
    assert value(second, "telegram_bot_telegram_429_total") == 0


async def test_an_entry_age_is_measured_from_the_redis_stream_entry_id(
    redis: aioredis.Redis,
) -> None:
    raw_id = await redis.xadd("s", {"f": "v"})
    entry_id = raw_id.decode() if isinstance(raw_id, bytes) else raw_id
    milliseconds = int(entry_id.split("-")[0])
    assert entry_age_s(entry_id, now=lambda: milliseconds / 1000 + 1.25) == pytest.approx(1.25)
    assert -1 < entry_age_s(entry_id) < 5, "same host: Redis's clock is ours"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_metrics_are_served_over_http_in_the_prometheus_text_format(
    http: aiohttp.ClientSession, metrics: Metrics
) -> None:
    metrics.telegram_retry("server_error")
    async with serve_health(free_port(), checks={}, metrics=metrics) as server:
        assert server is not None
        async with http.get(f"{server.url}/metrics") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            text = await response.text()
    retries = [
        sample
        for sample in samples(text)
        if sample.name == "telegram_bot_telegram_retries_total"
        and sample.labels["reason"] == "server_error"
    ]
    assert [sample.value for sample in retries] == [1]
