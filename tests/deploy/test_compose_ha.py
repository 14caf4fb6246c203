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
import subprocess
from collections.abc import Iterator
from functools import partial

import pytest

from services.cli import COMMANDS
from services.fakes.redis_server import free_port
from shared.redis_check import assess
from shared.settings import BaseSettings, load, sentinel_addresses
from tests.deploy.compose_ha import (
    BOTS,
    COMPOSE,
    DEPLOY,
    HA,
    NODES,
    RECOVERY_S,
    ROOT,
    SENTINELS,
    SERVICES,
    SINGLE_HOST,
    defaults_of,
    environment_of,
    interpolated,
    readme_table,
    running,
    wait_until,
)
from tests.deploy.settings_names import read_by, required_by

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


@pytest.fixture(scope="module")
def ha(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HA]:
    """One set-up for the tests that only look at it."""
    with running(tmp_path_factory.mktemp("ha")) as ha:
        yield ha


def healthcheck(service: str, port: int) -> int:
    """Run the service's healthcheck command (compose's $$ unescaped) against ``port``."""
    command = SERVICES[service]["healthcheck"]["test"][1].replace("$$", "$")
    command = re.sub(r"-p \d+", f"-p {port}", command)
    environ = {**os.environ, **defaults_of(SERVICES[service])}
    return subprocess.run(["sh", "-c", command], env=environ, timeout=10).returncode


def test_the_sentinels_monitor_the_master_with_the_files_quorum_and_timings(ha: HA) -> None:
    expected = defaults_of(SENTINELS["sentinel-1"])
    for name in SENTINELS:
        state = ha.client(name).sentinel_master("mymaster")
        assert (state["port"], state["quorum"]) == (ha.ports["redis-master"], 2)
        assert state["down-after-milliseconds"] == int(expected["SENTINEL_DOWN_AFTER_MS"])
        assert state["failover-timeout"] == int(expected["SENTINEL_FAILOVER_TIMEOUT_MS"])


def test_every_node_runs_the_settings_the_processes_check_at_start(ha: HA) -> None:
    for node in NODES:
        config = ha.client(node).config_get("*")
        assert assess(config) == (), node
        assert config["notify-keyspace-events"] in ("Kt", "tK"), node


def test_the_replicas_replicate_the_master(ha: HA) -> None:
    for replica in ("redis-replica-1", "redis-replica-2"):
        role = ha.client(replica).execute_command("ROLE")
        assert (role[0], int(role[2])) == ("slave", ha.ports["redis-master"])


def test_the_healthchecks_pass_on_a_running_set_up(ha: HA) -> None:
    for service in (*NODES, *SENTINELS):
        assert healthcheck(service, ha.ports[service]) == 0, service


@pytest.mark.parametrize("service", ["redis-master", "sentinel-1"])
def test_a_healthcheck_fails_where_nothing_answers(service: str) -> None:
    assert healthcheck(service, free_port()) != 0


@pytest.fixture(scope="module")
def failed_over(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HA, str, float]]:
    """A set-up whose master was killed (``kill -9``): it, the promoted node, how long it took."""
    with running(tmp_path_factory.mktemp("failover")) as ha:
        ha.started.processes["redis-master"].kill()
        took = wait_until(ha.replaced, 20, "a new master")
        promoted = ha.master()
        assert promoted is not None
        yield ha, promoted, took


def test_a_killed_master_is_replaced_within_the_recovery_goal(
    failed_over: tuple[HA, str, float],
) -> None:
    _ha, _promoted, took = failed_over
    assert took < RECOVERY_S


def test_after_a_failover_each_nodes_file_records_its_new_role(
    failed_over: tuple[HA, str, float],
) -> None:
    ha, promoted, _took = failed_over
    # Sentinel rewrites each node's file (CONFIG REWRITE) as it changes its role.
    other = next(n for n in NODES if n not in ("redis-master", promoted))
    assert "replicaof" not in ha.confs[promoted].read_text()
    wait_until(
        lambda: f"replicaof localhost {ha.ports[promoted]}" in ha.confs[other].read_text(),
        10,
        "the other replica follows the new master",
    )


def test_a_promoted_node_restarted_comes_back_as_the_master(
    failed_over: tuple[HA, str, float],
) -> None:
    ha, promoted, _took = failed_over
    ha.started.restart(promoted)
    wait_until(partial(ha.answers, promoted), 10, f"{promoted} answers again")
    assert ha.client(promoted).execute_command("ROLE")[0] == "master"


def test_a_sentinel_restarted_after_a_failover_names_the_new_master(
    failed_over: tuple[HA, str, float],
) -> None:
    ha, promoted, _took = failed_over
    ha.started.restart("sentinel-3")
    wait_until(partial(ha.answers, "sentinel-3"), 10, "sentinel-3 answers again")
    assert ha.master() == promoted
