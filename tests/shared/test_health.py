"""/healthz: a real aiohttp server on a free port, checking a real Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from services.fakes.redis_server import RedisServer, free_port
from shared.health import Check, Heartbeat, redis_check, serve_health, serve_process_health
from shared.metrics import Metrics
from shared.settings import BaseSettings, load


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server of this test's own, which it may stop."""
    with RedisServer(databases=1) as server:
        yield server


async def healthz(http: aiohttp.ClientSession, checks: dict[str, Check]) -> tuple[int, Any]:
    """Serve ``checks`` on a free port and GET /healthz once."""
    async with serve_health(free_port(), checks=checks, host="127.0.0.1") as server:
        assert server is not None
        async with http.get(f"{server.url}/healthz") as response:
            return response.status, await response.json()


async def test_healthz_is_200_when_redis_answers_and_the_loop_beats(
    http: aiohttp.ClientSession, redis: aioredis.Redis
) -> None:
    heartbeat = Heartbeat(stale_after_s=30)
    heartbeat.beat()
    status, body = await healthz(http, {"redis": redis_check(redis), "loop": heartbeat.check})
    assert status == 200
    assert body == {"status": "ok", "failed": [], "checks": {"redis": "ok", "loop": "ok"}}


async def test_healthz_is_503_naming_redis_once_the_redis_server_is_gone(
    http: aiohttp.ClientSession, own_redis: RedisServer
) -> None:
    client = aioredis.Redis.from_url(own_redis.url, socket_connect_timeout=1)
    try:
        checks = {"redis": redis_check(client), "loop": Heartbeat(stale_after_s=30).check}
        assert (await healthz(http, checks))[0] == 200
        own_redis.kill()
        status, body = await healthz(http, checks)
    finally:
        await client.aclose()
    assert status == 503
    assert body["failed"] == ["redis"]
    assert body["checks"]["loop"] == "ok"


async def test_healthz_is_503_when_redis_is_at_a_port_nobody_listens_on(
    http: aiohttp.ClientSession,
) -> None:
    client = aioredis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    try:
        status, body = await healthz(http, {"redis": redis_check(client)})
    finally:
        await client.aclose()
    assert status == 503
    assert body["checks"]["redis"] == "error: ConnectionError"


async def test_healthz_is_503_naming_the_loop_when_the_heartbeat_is_stale(
    http: aiohttp.ClientSession, redis: aioredis.Redis
) -> None:
    clock = FakeClock()
    heartbeat = Heartbeat(stale_after_s=10, clock=clock)
    clock.now += 10.5
    status, body = await healthz(http, {"redis": redis_check(redis), "loop": heartbeat.check})
    assert status == 503
    assert body["failed"] == ["loop"]
    assert body["checks"] == {"redis": "ok", "loop": "failed"}


async def test_a_heartbeat_nobody_beats_goes_stale_in_real_time(
    http: aiohttp.ClientSession,
) -> None:
    heartbeat = Heartbeat(stale_after_s=0.05)
    async with serve_health(free_port(), checks={"loop": heartbeat.check}) as server:
        assert server is not None
        deadline = time.monotonic() + 5
        statuses = []
        while time.monotonic() < deadline:
            async with http.get(f"{server.url}/healthz") as response:
                statuses.append(response.status)
            if statuses[-1] == 503:
                break
            await asyncio.sleep(0.01)
    assert statuses[-1] == 503


def test_a_beat_makes_a_stale_heartbeat_fresh_again() -> None:
    clock = FakeClock()
    heartbeat = Heartbeat(stale_after_s=10, clock=clock)
    clock.now += 11
    assert not heartbeat.fresh
    heartbeat.beat()
    assert heartbeat.fresh
    assert heartbeat.age_s == 0


async def test_a_check_that_hangs_fails_as_a_timeout_without_holding_the_answer(
    http: aiohttp.ClientSession,
) -> None:
    async def hangs() -> bool:
        await asyncio.Event().wait()
        return True

    async with serve_health(free_port(), checks={"hangs": hangs}, check_timeout_s=0.1) as server:
        assert server is not None
        async with http.get(f"{server.url}/healthz", timeout=aiohttp.ClientTimeout(5)) as response:
            assert response.status == 503
            assert (await response.json())["checks"] == {"hangs": "timeout"}


async def test_a_failing_check_is_named_by_its_error_type_never_its_message(
    http: aiohttp.ClientSession,
) -> None:
    async def leaks() -> bool:
        raise RuntimeError("cannot reach redis://:hunter2@redis:6379/0")

    async with serve_health(free_port(), checks={"redis": leaks}) as server:
        assert server is not None
        async with http.get(f"{server.url}/healthz") as response:
            text = await response.text()
    assert response.status == 503
    assert "error: RuntimeError" in text
    assert "hunter2" not in text


def process_settings(redis_url: str, metrics_port: int) -> BaseSettings:
    environ = {"TELEGRAM_BOT_TOKEN": "1:t", "REDIS_URL": redis_url}
    return load(BaseSettings, {**environ, "METRICS_PORT": str(metrics_port)})


async def test_a_process_serves_health_on_its_metrics_port_checking_its_redis_and_loop(
    http: aiohttp.ClientSession, redis_url: str
) -> None:
    settings = process_settings(redis_url, free_port())
    heartbeat = Heartbeat(stale_after_s=30)
    async with serve_process_health(
        settings, metrics=Metrics("relay"), heartbeat=heartbeat
    ) as server:
        assert server is not None
        assert server.port == settings.metrics_port
        async with http.get(f"{server.url}/healthz") as response:
            assert response.status == 200
            assert (await response.json())["checks"] == {"redis": "ok", "loop": "ok"}


async def test_a_process_with_metrics_port_zero_serves_nothing(redis_url: str) -> None:
    settings = process_settings(redis_url, 0)
    async with serve_process_health(settings, metrics=Metrics("relay"), heartbeat=None) as server:
        assert server is None


async def test_port_zero_serves_nothing() -> None:
    async with serve_health(0, checks={}) as server:
        assert server is None


async def test_a_port_already_taken_is_an_error_on_entry() -> None:
    port = free_port()
    async with serve_health(port, checks={}):
        with pytest.raises(OSError, match="address already in use"):
            async with serve_health(port, checks={}):
                pass


async def test_metrics_is_404_when_the_process_has_no_metrics(
    http: aiohttp.ClientSession,
) -> None:
    async with serve_health(free_port(), checks={}) as server:
        assert server is not None
        async with http.get(f"{server.url}/metrics") as response:
            assert response.status == 404
