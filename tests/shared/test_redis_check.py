"""The start-up check of Redis's settings: real redis-servers started with the settings under test.

Each server is this test's own (``CONFIG`` and persistence are the
server's, not a database's); the processes are the real ``telegram-bot``
commands, pointed at it.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
import structlog

from services.fakes.redis_server import RedisServer, free_port
from shared.entrypoint import EXIT_CONFIG
from shared.health import serve_health
from shared.redis_check import RedisSafety, check_redis
from shared.settings import BaseSettings, load
from tests.plugins.processes import StartService
from tests.processes import run_cli

SAFE = ("--appendonly", "yes", "--appendfsync", "always", "--maxmemory-policy", "noeviction")
EVICTING = (*SAFE, "--maxmemory-policy", "allkeys-lru")
NO_AOF = (*SAFE, "--appendonly", "no")
BOTH = (*SAFE, "--maxmemory-policy", "allkeys-lru", "--appendonly", "no")
CONFIG_RENAMED = (*BOTH, "--rename-command", "CONFIG", "")
PROCESSES = ["ingress", "relay", "notifier"]


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[RedisServer]:
    """A redis-server run with ``request.param``'s options."""
    with RedisServer(databases=1, options=request.param) as started:
        yield started


def settings_for(server: RedisServer, *, require_safe: bool = False) -> BaseSettings:
    environ = {"TELEGRAM_BOT_TOKEN": "1:t", "REDIS_URL": server.url}
    return load(BaseSettings, {**environ, "REDIS_REQUIRE_SAFE": str(require_safe).lower()})


async def checked(server: RedisServer, *, require_safe: bool = False) -> tuple[RedisSafety, Any]:
    """The check's outcome and every line it logged."""
    with structlog.testing.capture_logs() as logs:
        safety = await check_redis(settings_for(server, require_safe=require_safe))
    return safety, logs


@pytest.mark.parametrize("server", [EVICTING], indirect=True)
async def test_allkeys_lru_is_one_warning_naming_the_policy_and_its_risk(
    server: RedisServer,
) -> None:
    safety, logs = await checked(server)
    assert [(e["event"], e["log_level"], e["setting"], e["value"]) for e in logs] == [
        ("redis_unsafe", "warning", "maxmemory-policy", "allkeys-lru")
    ]
    assert "streams" in logs[0]["risk"]
    assert not safety.refused


@pytest.mark.parametrize("server", [(*SAFE, "--maxmemory-policy", "volatile-ttl")], indirect=True)
async def test_a_volatile_policy_is_a_warning_about_the_keys_with_a_ttl(
    server: RedisServer,
) -> None:
    _safety, logs = await checked(server)
    [warning] = logs
    assert (warning["setting"], warning["value"]) == ("maxmemory-policy", "volatile-ttl")
    assert "leases" in warning["risk"]
    assert "TTL" in warning["risk"]


@pytest.mark.parametrize("server", [NO_AOF], indirect=True)
async def test_a_redis_without_an_append_only_file_is_one_warning(server: RedisServer) -> None:
    _safety, logs = await checked(server)
    assert [(e["event"], e["setting"], e["value"]) for e in logs] == [
        ("redis_unsafe", "appendonly", "no")
    ]
    assert "restart" in logs[0]["risk"]


@pytest.mark.parametrize("server", [(*SAFE, "--appendfsync", "everysec")], indirect=True)
async def test_an_aof_synced_every_second_is_a_warning_about_two_seconds_lost_in_a_crash(
    server: RedisServer,
) -> None:
    _safety, logs = await checked(server)
    [warning] = logs
    assert (warning["setting"], warning["value"]) == ("appendfsync", "everysec")
    assert "2 s" in warning["risk"]


@pytest.mark.parametrize("server", [BOTH], indirect=True)
async def test_each_problem_is_logged_once(server: RedisServer) -> None:
    safety, logs = await checked(server)
    assert sorted((e["event"], e["setting"]) for e in logs) == [
        ("redis_unsafe", "appendonly"),
        ("redis_unsafe", "maxmemory-policy"),
    ]
    assert [p.setting for p in safety.problems] == ["maxmemory-policy", "appendonly"]


@pytest.mark.parametrize("server", [SAFE], indirect=True)
async def test_a_safe_redis_gives_no_warning(server: RedisServer) -> None:
    safety, logs = await checked(server, require_safe=True)
    assert logs == []
    assert safety == RedisSafety()
    assert safety.health_warnings == {}


@pytest.mark.parametrize("server", [CONFIG_RENAMED], indirect=True)
async def test_a_redis_with_config_renamed_is_one_notice_and_no_refusal(
    server: RedisServer,
) -> None:
    safety, logs = await checked(server, require_safe=True)
    assert [(e["event"], e["error"]) for e in logs] == [("redis_config_unchecked", "ResponseError")]
    assert "CONFIG GET refused" in logs[0]["reason"]
    assert not safety.refused
    assert safety.health_warnings == {"redis_config": [f"not checked: {safety.unchecked}"]}


async def test_healthz_lists_warnings_and_stays_200() -> None:
    async def passes() -> bool:
        return True

    warnings = {"redis_config": ["appendonly=no: a restart loses it"]}
    async with (
        serve_health(
            free_port(), checks={"redis": passes}, host="127.0.0.1", warnings=warnings
        ) as health,
        aiohttp.ClientSession() as http,
    ):
        assert health is not None
        async with http.get(f"{health.url}/healthz") as response:
            assert response.status == 200
            body = await response.json()
    assert body == {"status": "ok", "failed": [], "checks": {"redis": "ok"}, "warnings": warnings}


# --- the real processes ----------------------------------------------------------------------


@pytest.mark.parametrize("server", [BOTH], indirect=True)
@pytest.mark.parametrize("command", PROCESSES)
async def test_redis_require_safe_refuses_to_start_in_one_line_with_the_config_error_status(
    server: RedisServer, service_env: dict[str, str], command: str
) -> None:
    # The caller's PYTHONPATH, if set: the code under test wherever it is imported from.
    code = {k: v for k, v in os.environ.items() if k == "PYTHONPATH"}
    env = {**service_env, **code, "REDIS_URL": server.url, "REDIS_REQUIRE_SAFE": "true"}
    result = await asyncio.to_thread(run_cli, [command], env)
    assert result.returncode == EXIT_CONFIG, result.stderr
    assert result.stdout == ""
    [line] = [json.loads(text) for text in result.stderr.splitlines()]
    assert (line["event"], line["level"]) == ("redis_unsafe_refused", "error")
    assert "maxmemory-policy=allkeys-lru" in line["problems"]
    assert "appendonly=no" in line["problems"]


@pytest.mark.parametrize("server", [BOTH], indirect=True)
@pytest.mark.parametrize("command", PROCESSES)
async def test_healthz_of_a_process_names_the_problems_and_stays_200(
    server: RedisServer, start_service: StartService, command: str
) -> None:
    port = free_port()
    process = start_service(command, REDIS_URL=server.url, METRICS_PORT=str(port))
    await process.wait_for_event("health_listening")
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/healthz") as response,
    ):
        body = await response.json()
    assert response.status == 200, body
    [policy, aof] = body["warnings"]["redis_config"]
    assert policy.startswith("maxmemory-policy=allkeys-lru: ")
    assert aof.startswith("appendonly=no: ")
    warned = [e["setting"] for e in process.events() if e["event"] == "redis_unsafe"]
    assert sorted(warned) == ["appendonly", "maxmemory-policy"]
