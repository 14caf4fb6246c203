"""deploy/docker-compose.ha.yml: Redis Sentinel HA that agrees with the code and the README.

No Docker engine runs here, so the file is parsed and checked against what
the code reads (as ``test_compose.py`` does for the single-host file), and the
start-up scripts it runs (``deploy/redis/node.sh``, ``sentinel.sh``) are run for
real on free loopback ports with the environment the file gives them: a master,
two replicas and three Sentinels, then a ``kill -9`` of the master.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from services.cli import COMMANDS
from services.fakes.redis_server import free_port, stop_process
from shared.redis_check import assess
from shared.settings import BaseSettings, load, sentinel_addresses
from tests.deploy.settings_names import read_by, required_by

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.ha.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
SINGLE_HOST: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
NODE_SCRIPT = "/usr/local/etc/redis-ha/node.sh"
SENTINEL_SCRIPT = "/usr/local/etc/redis-ha/sentinel.sh"
NODES = {n: s for n, s in SERVICES.items() if s["command"][:2] == ["sh", NODE_SCRIPT]}
SENTINELS = {n: s for n, s in SERVICES.items() if s["command"] == ["sh", SENTINEL_SCRIPT]}
BOTS = {n: s for n, s in SERVICES.items() if n not in NODES and n not in SENTINELS}
RECOVERY_S = 10.0
"""The issue's goal: a reply flows again within this long of the master's ``kill -9``."""


def interpolated(value: object) -> str | None:
    """The value compose gives with no variables set: ``${X:-d}`` is d, ``${X:?...}`` None."""
    text = str(value)
    if re.fullmatch(r"\$\{\w+:\?[^}]*\}", text):
        return None
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", text)


def environment_of(spec: dict[str, Any]) -> dict[str, str]:
    environment = spec.get("environment", {})
    assert isinstance(environment, dict), "environment as a mapping, merged from an anchor"
    return {str(k): str(v) for k, v in environment.items()}


def defaults_of(spec: dict[str, Any]) -> dict[str, str]:
    """The environment with compose's defaults filled in (required ones left out)."""
    found = {k: interpolated(v) for k, v in environment_of(spec).items()}
    return {k: v for k, v in found.items() if v is not None}


def readme_table() -> frozenset[str]:
    """The variables of the README's configuration table (its rows' first cells)."""
    names: set[str] = set()
    for line in (ROOT / "README.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            names.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0]))
    return frozenset(names)


# --- the file ------------------------------------------------------------------


def test_the_file_has_one_master_two_replicas_three_sentinels_and_every_process() -> None:
    assert set(NODES) == {"redis-master", "redis-replica-1", "redis-replica-2"}
    assert set(SENTINELS) == {"sentinel-1", "sentinel-2", "sentinel-3"}
    assert set(BOTS) == set(COMMANDS)


@pytest.mark.parametrize("replica", ["redis-replica-1", "redis-replica-2"])
def test_each_replica_starts_as_a_replica_of_the_master(replica: str) -> None:
    assert environment_of(NODES[replica])["REDIS_INITIAL_MASTER"] == "redis-master"
    assert NODES[replica]["depends_on"]["redis-master"]["condition"] == "service_healthy"


def test_the_master_starts_as_a_master() -> None:
    assert "REDIS_INITIAL_MASTER" not in environment_of(NODES["redis-master"])


@pytest.mark.parametrize("node", sorted(NODES))
def test_every_redis_node_announces_its_own_name_on_the_network(node: str) -> None:
    assert environment_of(NODES[node])["REDIS_ANNOUNCE_HOST"] == node


@pytest.mark.parametrize("node", sorted(NODES))
def test_every_redis_node_runs_the_settings_the_processes_check(node: str) -> None:
    words = NODES[node]["command"][2:]
    names, values = words[::2], words[1::2]
    options = {n.removeprefix("--"): v for n, v in zip(names, values, strict=True)}
    assert options["appendonly"] == "yes"
    assert options["appendfsync"] == "always"
    assert options["maxmemory-policy"] == "noeviction"
    assert assess(options) == ()


@pytest.mark.parametrize("service", sorted({**NODES, **SENTINELS}))
def test_every_redis_and_sentinel_service_has_a_healthcheck(service: str) -> None:
    test = SERVICES[service]["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL"
    assert "redis-cli" in test[1]


@pytest.mark.parametrize("service", sorted({**NODES, **SENTINELS}))
def test_every_redis_and_sentinel_service_keeps_its_files_on_a_volume_of_its_own(
    service: str,
) -> None:
    volumes = SERVICES[service]["volumes"]
    assert f"{service}-data:/data" in volumes
    assert "./redis:/usr/local/etc/redis-ha:ro" in volumes


def test_the_sentinels_agree_on_the_master_and_its_timings() -> None:
    settings = {name: defaults_of(spec) for name, spec in SENTINELS.items()}
    shared = {k: v for k, v in settings["sentinel-1"].items() if k != "SENTINEL_ANNOUNCE_HOST"}
    for name, environment in settings.items():
        assert environment == {**shared, "SENTINEL_ANNOUNCE_HOST": name}
    assert shared["SENTINEL_MASTER_HOST"] == "redis-master"


def test_the_quorum_is_a_majority_the_three_sentinels_can_reach() -> None:
    quorum = int(defaults_of(SENTINELS["sentinel-1"])["SENTINEL_QUORUM"])
    assert len(SENTINELS) // 2 < quorum <= len(SENTINELS)


def test_sentinel_timings_are_lowered_as_the_failover_benchmark_expects() -> None:
    environment = defaults_of(SENTINELS["sentinel-1"])
    assert environment["SENTINEL_DOWN_AFTER_MS"] == "2000"
    assert environment["SENTINEL_FAILOVER_TIMEOUT_MS"] == "5000"


@pytest.mark.parametrize("service", sorted(BOTS))
def test_every_process_finds_redis_through_all_three_sentinels(service: str) -> None:
    environment = defaults_of(BOTS[service])
    settings = load(BaseSettings, {**environment, "TELEGRAM_BOT_TOKEN": "1:x"})
    # Each Sentinel listens on sentinel.sh's default port, the one named here.
    assert "SENTINEL_PORT" not in environment_of(SENTINELS["sentinel-1"])
    assert set(sentinel_addresses(settings.redis_sentinels)) == {
        (name, 26379) for name in SENTINELS
    }
    master_name = defaults_of(SENTINELS["sentinel-1"])["SENTINEL_MASTER_NAME"]
    assert settings.redis_sentinel_master == master_name == "mymaster"


@pytest.mark.parametrize("service", sorted(BOTS))
def test_every_process_waits_for_healthy_sentinels(service: str) -> None:
    depends_on = BOTS[service]["depends_on"]
    assert {name: depends_on[name]["condition"] for name in SENTINELS} == dict.fromkeys(
        SENTINELS, "service_healthy"
    )


@pytest.mark.parametrize("service", sorted(BOTS))
def test_every_variable_is_in_the_readme_table_and_read_by_the_process(service: str) -> None:
    environment = environment_of(BOTS[service])
    undocumented = set(environment) - readme_table()
    assert not undocumented, f"{service}: not in the README's table: {sorted(undocumented)}"
    unknown = set(environment) - read_by(service)
    assert not unknown, f"{service} reads no such variable: {sorted(unknown)}"


@pytest.mark.parametrize("service", sorted(BOTS))
def test_required_variables_stop_compose_with_a_message_when_unset(service: str) -> None:
    environment = environment_of(BOTS[service])
    for name in required_by(service) | {"API_URL"}:
        assert interpolated(environment.get(name, "")) is None, f"{service}: {name}"


@pytest.mark.parametrize("service", sorted(BOTS))
def test_every_process_runs_as_in_the_single_host_file(service: str) -> None:
    ours, theirs = BOTS[service], SINGLE_HOST["services"][service]
    assert (ours["image"], ours["command"]) == (theirs["image"], theirs["command"])
    assert ours["healthcheck"] == theirs["healthcheck"]
    assert (DEPLOY / ours["build"] / "Dockerfile").exists()
    redis_names = {"REDIS_URL", "REDIS_SENTINELS", "REDIS_SENTINEL_MASTER", "REDIS_REQUIRE_SAFE"}
    same = {k: v for k, v in environment_of(ours).items() if k not in redis_names}
    assert same == {k: v for k, v in environment_of(theirs).items() if k not in redis_names}


def test_every_service_is_on_the_named_network_the_platform_joins() -> None:
    assert interpolated(COMPOSE["networks"]["default"]["name"]) == "telegram-bot"
    assert not [name for name, spec in SERVICES.items() if "networks" in spec]
    operations = (ROOT / "docs" / "OPERATIONS.md").read_text()
    assert "external: true" in operations
    assert "name: telegram-bot" in operations


def test_the_sentinels_are_published_on_the_hosts_loopback_only() -> None:
    published = [port for spec in SENTINELS.values() for port in spec["ports"]]
    assert sorted(published) == [f"127.0.0.1:{p}:26379" for p in (26379, 26380, 26381)]


# --- the scripts, run ------------------------------------------------------------


class Started:
    """Processes started by the scripts, each in a directory of its own, stopped at the end."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def run(self, name: str, spec: dict[str, Any], extra_env: dict[str, str]) -> None:
        script = DEPLOY / "redis" / Path(spec["command"][1]).name
        (self.base / name).mkdir(exist_ok=True)
        environ = {**os.environ, **defaults_of(spec), **extra_env}
        self.processes[name] = subprocess.Popen(
            ["sh", str(script), *spec["command"][2:], *local_options(spec)],
            env=environ,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        # Sentinels first, the master last: none of them fails over on its way out.
        for process in reversed(self.processes.values()):
            if process.poll() is None:
                stop_process(process, timeout=5)


def local_options(spec: dict[str, Any]) -> list[str]:
    """Loopback only, and no snapshots in the test's directories."""
    return [] if spec in SENTINELS.values() else ["--bind", "127.0.0.1", "--save", ""]


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``condition`` (Redis and Sentinel offer no event for these); the time it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            if condition():
                return time.monotonic() - start
        except (redis.RedisError, OSError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {what}")


class HA:
    """The compose file's master, replicas and Sentinels, run by its scripts on loopback."""

    def __init__(self, base: Path) -> None:
        self.started = Started(base)
        self.ports = {name: free_port() for name in (*NODES, *SENTINELS)}
        self.confs = {name: base / name / "node.conf" for name in (*NODES, *SENTINELS)}

    def client(self, name: str) -> Any:
        """A client of one node or Sentinel (typed Any: redis-py's sync replies are unions)."""
        return redis.Redis(port=self.ports[name], socket_timeout=1, decode_responses=True)

    def answers(self, name: str) -> bool:
        return bool(self.client(name).ping())

    def knows_everyone(self, name: str) -> bool:
        client = self.client(name)
        return (
            len(client.sentinel_slaves("mymaster")) == 2
            and len(client.sentinel_sentinels("mymaster")) == 2
        )

    def start(self) -> None:
        port = str(self.ports["redis-master"])
        for name, spec in NODES.items():
            local = {
                "REDIS_CONF": str(self.confs[name]),
                "REDIS_PORT": str(self.ports[name]),
                "REDIS_ANNOUNCE_HOST": "localhost",
            }
            if "REDIS_INITIAL_MASTER" in environment_of(spec):
                # The file's replicas, pointed at the master on loopback.
                local |= {"REDIS_INITIAL_MASTER": "localhost", "REDIS_INITIAL_MASTER_PORT": port}
            self.started.run(name, spec, local)
            wait_until(partial(self.answers, name), 10, f"{name} answers")
        for name, spec in SENTINELS.items():
            self.started.run(
                name,
                spec,
                {
                    "SENTINEL_CONF": str(self.confs[name]),
                    "SENTINEL_PORT": str(self.ports[name]),
                    "SENTINEL_BIND": "127.0.0.1",
                    "SENTINEL_ANNOUNCE_HOST": "localhost",
                    "SENTINEL_MASTER_HOST": "localhost",
                    "SENTINEL_MASTER_PORT": port,
                },
            )
        for name in SENTINELS:
            # Sentinels find each other and the replicas through the master (hello
            # messages every 2 s, INFO every 10 s); only then can they fail over.
            wait_until(
                partial(self.knows_everyone, name),
                30,
                f"{name} knows the replicas and the other Sentinels",
            )

    def master(self) -> str | None:
        """The node every Sentinel names the master, if they agree."""
        answers = set()
        for name in SENTINELS:
            address = self.client(name).sentinel_get_master_addr_by_name("mymaster")
            answers.add(int(address[1]) if address else None)
        port = answers.pop() if len(answers) == 1 else None
        return next((node for node in NODES if self.ports[node] == port), None)


def running(base: Path) -> Iterator[HA]:
    if shutil.which("redis-server") is None and not os.environ.get("CI"):
        pytest.skip("redis-server is not installed (make redis-server)")
    setup = HA(base)
    try:
        setup.start()
        yield setup
    finally:
        setup.started.stop()


@pytest.fixture(scope="module")
def ha_running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HA]:
    """One set-up for the tests that only look at it."""
    yield from running(tmp_path_factory.mktemp("ha"))


@pytest.fixture
def ha(tmp_path: Path) -> Iterator[HA]:
    """A set-up of its own, for a test that kills part of it."""
    yield from running(tmp_path)


def healthcheck(service: str, port: int) -> int:
    """Run the service's healthcheck command (compose's $$ unescaped) against ``port``."""
    command = SERVICES[service]["healthcheck"]["test"][1].replace("$$", "$")
    command = re.sub(r"-p \d+", f"-p {port}", command)
    environ = {**os.environ, **defaults_of(SERVICES[service])}
    return subprocess.run(["sh", "-c", command], env=environ, timeout=10).returncode


def test_the_sentinels_monitor_the_master_with_the_files_quorum_and_timings(ha_running: HA) -> None:
    expected = defaults_of(SENTINELS["sentinel-1"])
    for name in SENTINELS:
        state = ha_running.client(name).sentinel_master("mymaster")
        assert (state["port"], state["quorum"]) == (ha_running.ports["redis-master"], 2)
        assert state["down-after-milliseconds"] == int(expected["SENTINEL_DOWN_AFTER_MS"])
        assert state["failover-timeout"] == int(expected["SENTINEL_FAILOVER_TIMEOUT_MS"])


def test_every_node_runs_the_settings_the_processes_check_at_start(ha_running: HA) -> None:
    for node in NODES:
        config = ha_running.client(node).config_get("*")
        assert assess(config) == (), node
        assert config["notify-keyspace-events"] in ("Kt", "tK"), node


def test_the_replicas_replicate_the_master(ha_running: HA) -> None:
    for replica in ("redis-replica-1", "redis-replica-2"):
        role = ha_running.client(replica).execute_command("ROLE")
        assert (role[0], int(role[2])) == ("slave", ha_running.ports["redis-master"])


def test_the_healthchecks_pass_on_a_running_set_up(ha_running: HA) -> None:
    for service in (*NODES, *SENTINELS):
        assert healthcheck(service, ha_running.ports[service]) == 0, service


@pytest.mark.parametrize("service", ["redis-master", "sentinel-1"])
def test_a_healthcheck_fails_where_nothing_answers(service: str) -> None:
    assert healthcheck(service, free_port()) != 0


def test_a_killed_master_is_replaced_within_seconds_and_the_roles_are_kept_on_disk(
    ha: HA,
) -> None:
    ha.started.processes["redis-master"].kill()  # kill -9
    took = wait_until(lambda: ha.master() not in (None, "redis-master"), 20, "a new master")
    assert took < RECOVERY_S
    promoted = ha.master()
    assert promoted is not None
    # Sentinel rewrites each node's file (CONFIG REWRITE): a restart keeps the new roles.
    other = next(n for n in NODES if n not in ("redis-master", promoted))
    assert "replicaof" not in ha.confs[promoted].read_text()
    wait_until(
        lambda: f"replicaof localhost {ha.ports[promoted]}" in ha.confs[other].read_text(),
        10,
        "the other replica follows the new master",
    )
