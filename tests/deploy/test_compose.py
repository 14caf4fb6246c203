"""docker-compose.yml and the Dockerfile agree with the code.

No Docker engine runs here, so the files are parsed and checked against
what the code reads: subcommands, settings, health endpoints.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.cli import COMMANDS
from services.fakes.redis_server import free_port
from shared.health import CHECK_TIMEOUT_S, serve_health
from shared.redis_check import assess
from tests.deploy.settings_names import read_by, required_by

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, Any] = COMPOSE["services"]
BOTS = {name: spec for name, spec in SERVICES.items() if name != "redis"}


def command_of(spec: dict[str, Any]) -> str:
    command = spec["command"]
    words = command.split() if isinstance(command, str) else command
    assert len(words) == 1, f"one subcommand, settings in the environment: {command!r}"
    return str(words[0])


def environment_of(spec: dict[str, Any]) -> dict[str, str]:
    environment = spec.get("environment", {})
    assert isinstance(environment, dict), "environment as a mapping, merged from the anchor"
    return {str(k): str(v) for k, v in environment.items()}


def test_the_file_has_redis_and_one_service_per_process() -> None:
    assert set(SERVICES) == {"redis", *COMMANDS}


@pytest.mark.parametrize("service", sorted(BOTS))
def test_every_service_runs_a_real_subcommand(service: str) -> None:
    assert command_of(BOTS[service]) == service
    assert command_of(BOTS[service]) in COMMANDS


@pytest.mark.parametrize("service", sorted(BOTS))
def test_every_variable_is_one_the_process_reads(service: str) -> None:
    unknown = set(environment_of(BOTS[service])) - read_by(service)
    assert not unknown, f"{service} reads no such variable: {sorted(unknown)}"


@pytest.mark.parametrize("service", sorted(BOTS))
def test_required_variables_stop_compose_with_a_message_when_unset(service: str) -> None:
    environment = environment_of(BOTS[service])
    for name in required_by(service) | {"API_URL"}:
        assert re.fullmatch(rf"\$\{{{name}:\?[^}}]+\}}", environment.get(name, "")), (
            f"{service}: {name} must be ${{{name}:?<what to set>}}"
        )


def test_the_shared_environment_is_one_anchor_merged_into_every_service() -> None:
    assert "x-common-env: &common-env" in COMPOSE_TEXT
    common = COMPOSE["x-common-env"]
    for name, spec in BOTS.items():
        environment = environment_of(spec)
        assert {k: environment.get(k) for k in common} == common, name
    assert common["METRICS_PORT"] == "9100"
    assert common["REDIS_URL"].startswith("redis://redis:")


def test_the_ingress_polls_as_one_replica_and_the_webhook_variant_is_documented() -> None:
    ingress = BOTS["ingress"]
    assert environment_of(ingress)["INGRESS_MODE"] == "polling"
    assert ingress["deploy"]["replicas"] == 1
    for line in ("INGRESS_MODE: webhook", "WEBHOOK_URL:", "WEBHOOK_SECRET:"):
        assert f"#     {line}" in COMPOSE_TEXT, f"the webhook variant names {line}"
    webhook_names = {"INGRESS_MODE", "WEBHOOK_URL", "WEBHOOK_SECRET", "WEBHOOK_LISTEN"}
    assert webhook_names <= read_by("ingress")


def test_there_are_at_least_two_relays() -> None:
    assert BOTS["relay"]["deploy"]["replicas"] >= 2


def test_redis_keeps_its_data_in_an_append_only_file_on_a_volume() -> None:
    redis = SERVICES["redis"]
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert any(str(volume).endswith(":/data") for volume in redis["volumes"])


def redis_options() -> dict[str, str]:
    """The redis service's ``--name value`` arguments."""
    command = SERVICES["redis"]["command"]
    assert command[0] == "redis-server"
    names, values = command[1::2], command[2::2]
    assert all(name.startswith("--") for name in names), command
    return {name.removeprefix("--"): value for name, value in zip(names, values, strict=True)}


def test_redis_syncs_every_write_and_never_evicts_as_the_architecture_promises() -> None:
    options = redis_options()
    assert options["appendfsync"] == "always"
    assert options["maxmemory-policy"] == "noeviction"


def test_the_redis_compose_runs_passes_the_processes_start_up_check() -> None:
    assert assess(redis_options()) == ()


def test_redis_has_a_ping_healthcheck() -> None:
    assert SERVICES["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


@pytest.mark.parametrize("service", sorted(BOTS))
def test_every_process_waits_for_a_healthy_redis(service: str) -> None:
    assert BOTS[service]["depends_on"]["redis"]["condition"] == "service_healthy"


@pytest.mark.parametrize("service", sorted(BOTS))
def test_every_process_has_a_healthcheck_on_healthz(service: str) -> None:
    test = BOTS[service]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    assert "/healthz" in test[3]
    assert "METRICS_PORT" in test[3]


def test_the_healthcheck_gives_the_server_time_to_run_its_checks() -> None:
    (timeout,) = re.findall(r"timeout=(\d+)", BOTS["relay"]["healthcheck"]["test"][3])
    assert int(timeout) > CHECK_TIMEOUT_S
    assert int(timeout) < int(BOTS["relay"]["healthcheck"]["timeout"].removesuffix("s"))


@pytest.fixture(params=[True, False], ids=["healthy", "unhealthy"])
async def health_server(request: pytest.FixtureRequest) -> AsyncIterator[tuple[int, bool]]:
    """The processes' own health server, its one check passing or not."""
    healthy: bool = request.param

    async def check() -> bool:
        return healthy

    port = free_port()
    async with serve_health(port, checks={"probe": check}, host="127.0.0.1"):
        yield port, healthy


async def test_the_healthcheck_command_passes_only_when_healthz_is_200(
    health_server: tuple[int, bool],
) -> None:
    port, healthy = health_server
    code = BOTS["relay"]["healthcheck"]["test"][3]
    # Asynchronously: the server answering it runs on this event loop.
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        env={"METRICS_PORT": str(port)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert (process.returncode == 0) == healthy, stderr.decode()


# --- Dockerfile ----------------------------------------------------------------

DOCKERFILE = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
"""With continuation lines joined."""


def _instructions(name: str) -> list[str]:
    pattern = rf"^{name}\s+(.+)$"
    return [m.group(1).strip() for m in re.finditer(pattern, DOCKERFILE, re.MULTILINE)]


def test_the_image_is_python_3_11_slim() -> None:
    final_stage = _instructions("FROM")[-1]
    assert final_stage.split()[0] == "python:3.11-slim"


def test_the_image_runs_as_a_user_who_is_not_root() -> None:
    (user,) = _instructions("USER")
    assert user not in ("root", "0")


def test_the_image_carries_every_command_behind_one_entrypoint() -> None:
    (entrypoint,) = _instructions("ENTRYPOINT")
    assert json.loads(entrypoint) == ["telegram-bot"]
    for spec in BOTS.values():
        assert spec["build"] == "."


def test_the_image_serves_health_on_port_9100_unless_told_otherwise() -> None:
    assert re.search(r"^ENV METRICS_PORT=9100$", DOCKERFILE, re.MULTILINE)


def test_the_image_checks_healthz_exactly_as_compose_does() -> None:
    (healthcheck,) = _instructions("HEALTHCHECK")
    options, _cmd, command = healthcheck.partition(" CMD ")
    compose = BOTS["relay"]["healthcheck"]
    assert ["CMD", *json.loads(command)] == compose["test"]
    flags = dict(flag.removeprefix("--").split("=") for flag in options.split())
    assert flags == {
        name: str(compose[name.replace("-", "_")])
        for name in ("interval", "timeout", "start-period", "retries")
    }


def test_the_build_context_leaves_out_the_venv_and_the_tests() -> None:
    rules = (ROOT / ".dockerignore").read_text().splitlines()
    assert rules[rules.index("*") :][:1] == ["*"], "everything excluded, then allowed back"
    allowed = {rule.removeprefix("!").rstrip("/") for rule in rules if rule.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "shared", "services"}


# --- the files process ---------------------------------------------------------


def test_compose_refuses_to_start_without_the_files_signing_key() -> None:
    # Required by the files process, so by the whole file: the ingress signs with it.
    environment = environment_of(BOTS["files"])
    assert re.fullmatch(r"\$\{FILES_SIGNING_KEY:\?[^}$]+\}", environment["FILES_SIGNING_KEY"])
    assert "FILES_SIGNING_KEY" in COMPOSE["x-common-env"]


def test_the_files_process_listens_on_the_port_it_exposes() -> None:
    files = BOTS["files"]
    _host, _sep, port = environment_of(files)["FILES_LISTEN"].rpartition(":")
    assert files["expose"] == [port]
    assert environment_of(files)["FILES_PUBLIC_URL"].endswith(f"//files:{port}}}")
