"""deploy/docker-compose.ha.yml as the tests see it, and its Redis scripts run on loopback.

``HA`` starts what the file starts, with the environment it gives each service,
through the same scripts (``deploy/redis/node.sh``, ``sentinel.sh``): a master,
two replicas and three Sentinels on free ports of 127.0.0.1, each node and
Sentinel known as ``localhost`` (their service names on the compose network).
"""

from __future__ import annotations

import contextlib
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

from services.fakes.redis_server import free_port, stop_process

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


class Started:
    """Processes started by the scripts, each in a directory of its own, stopped at the end."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.runs: dict[str, tuple[dict[str, Any], dict[str, str]]] = {}

    def run(self, name: str, spec: dict[str, Any], extra_env: dict[str, str]) -> None:
        self.runs[name] = (spec, extra_env)
        script = DEPLOY / "redis" / Path(spec["command"][1]).name
        (self.base / name).mkdir(exist_ok=True)
        environ = {**os.environ, **defaults_of(spec), **extra_env}
        self.processes[name] = subprocess.Popen(
            ["sh", str(script), *spec["command"][2:], *local_options(spec)],
            env=environ,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def restart(self, name: str) -> None:
        """Stop one (SIGTERM) and run it again as before: a container restarted in place."""
        stop_process(self.processes[name], timeout=5)
        self.run(name, *self.runs[name])

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

    def replaced(self) -> bool:
        """Every Sentinel names a master, and not the first one."""
        return self.master() not in (None, "redis-master")

    def master(self) -> str | None:
        """The node every Sentinel names the master, if they agree."""
        answers = set()
        for name in SENTINELS:
            address = self.client(name).sentinel_get_master_addr_by_name("mymaster")
            answers.add(int(address[1]) if address else None)
        port = answers.pop() if len(answers) == 1 else None
        return next((node for node in NODES if self.ports[node] == port), None)


@contextlib.contextmanager
def running(base: Path) -> Iterator[HA]:
    if shutil.which("redis-server") is None and not os.environ.get("CI"):
        pytest.skip("redis-server is not installed (make redis-server)")
    setup = HA(base)
    try:
        setup.start()
        yield setup
    finally:
        setup.started.stop()
