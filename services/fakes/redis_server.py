"""A real ``redis-server`` on a free loopback port, for tests and the sandbox.

Not a fake: the genuine server binary, started with persistence off in a
temporary directory, stopped (and its directory removed) on ``stop``.
``restart`` keeps the port, so clients can reconnect, and drops the data,
like a Redis without persistence that crashed. ``options`` are more
``redis-server`` arguments, after (so overriding) ours: ``("--appendonly",
"yes")``, ``("--rename-command", "CONFIG", "")``.

``SentinelSetup`` is a small Redis HA for the Sentinel tests: a master, a
replica (``--replicaof``) and three ``RedisSentinel``s, each the same binary
run as ``redis-server <conf> --sentinel`` (no ``redis-sentinel`` package needed).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class RedisServer:
    def __init__(
        self, port: int | None = None, databases: int = 16, options: Sequence[str] = ()
    ) -> None:
        self.port = port or free_port()
        self.databases = databases
        self.options = tuple(options)
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def url_for_db(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self, timeout: float = 10.0) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not on PATH (apt-get install redis-server)")
        self._dir = Path(tempfile.mkdtemp(prefix="tgbot-redis-"))
        self._proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--databases",
                str(self.databases),
                "--dir",
                str(self._dir),
                "--loglevel",
                "warning",
                *self.options,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        # Polling the port is the only readiness signal redis-server gives
        # without a config file and a pidfile dance.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self._proc.returncode}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock,
            ):
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return
            time.sleep(0.02)
        raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def kill(self) -> None:
        """Stop the server abruptly (SIGKILL), keeping the port for ``start``."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def restart(self) -> None:
        self.kill()
        self._cleanup_dir()
        self.start()

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            stop_process(self._proc, timeout=5)
        self._cleanup_dir()

    def _cleanup_dir(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


class RedisSentinel:
    """A real Sentinel (``redis-server <conf> --sentinel``) watching one master.

    The timings are lowered for tests: a master is down after ``down_after_ms``
    without an answer, and a failover may take ``failover_timeout_ms``. Sentinel
    rewrites its config file, so it lives in a temporary directory of its own.
    """

    def __init__(
        self,
        master_port: int,
        *,
        master_name: str = "mymaster",
        quorum: int = 2,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 3000,
        password: str | None = None,
        port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.password = password
        self.master_port = master_port
        self.master_name = master_name
        self.quorum = quorum
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        """``host:port``, as ``REDIS_SENTINELS`` lists it."""
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not on PATH (apt-get install redis-server)")
        self._dir = Path(tempfile.mkdtemp(prefix="tgbot-sentinel-"))
        config = self._dir / "sentinel.conf"
        name = self.master_name
        config.write_text(
            f"port {self.port}\n"
            "bind 127.0.0.1\n"
            f"dir {self._dir}\n"
            "loglevel warning\n"
            f"sentinel monitor {name} 127.0.0.1 {self.master_port} {self.quorum}\n"
            f"sentinel down-after-milliseconds {name} {self.down_after_ms}\n"
            f"sentinel failover-timeout {name} {self.failover_timeout_ms}\n"
            f"sentinel parallel-syncs {name} 1\n"
            # Sentinels present their own requirepass to each other.
            + (f"requirepass {self.password}\n" if self.password else "")
        )
        self._proc = subprocess.Popen(
            [binary, str(config), "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_pong(self._proc, self.port, timeout, "redis-sentinel", self.password)

    def command(self, *args: str, timeout: float = 1.0) -> list[str]:
        """One Sentinel command's reply, flattened to its strings (RESP2, no client needed)."""
        return _command(self.port, args, timeout, self.password)

    def master_address(self) -> tuple[str, int] | None:
        """Where this Sentinel says the master is now (None: it does not know)."""
        try:
            reply = self.command("SENTINEL", "get-master-addr-by-name", self.master_name)
        except OSError:
            return None
        return (reply[0], int(reply[1])) if len(reply) == 2 else None

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            stop_process(self._proc, timeout=5)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


def _wait_for_pong(
    process: subprocess.Popen[bytes], port: int, timeout: float, what: str, password: str | None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        with contextlib.suppress(OSError):
            if _command(port, ("PING",), 0.2, password) == ["PONG"]:
                return
        time.sleep(0.02)
    raise RuntimeError(f"{what} did not answer on port {port}")


def _command(
    port: int, args: Sequence[str], timeout: float, password: str | None = None
) -> list[str]:
    """Send one command in RESP and read the reply's strings (after an AUTH with
    ``password``): enough for PING and SENTINEL queries."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        reader = sock.makefile("rb")
        if password:
            sock.sendall(_request(("AUTH", password)))
            _read_reply(reader)
        sock.sendall(_request(args))
        return _read_reply(reader)


def _request(args: Sequence[str]) -> bytes:
    parts = "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
    return f"*{len(args)}\r\n{parts}".encode()


def _read_reply(reader: BinaryIO) -> list[str]:
    line = reader.readline().rstrip(b"\r\n").decode()
    kind, rest = line[:1], line[1:]
    if kind in "+:":
        return [rest]
    if kind == "-":
        raise OSError(rest)
    if kind == "$":
        return [] if rest == "-1" else [reader.read(int(rest) + 2)[:-2].decode()]
    if kind == "*":
        return [item for _ in range(max(int(rest), 0)) for item in _read_reply(reader)]
    raise OSError(f"unexpected reply {line!r}")


class SentinelSetup:
    """A master, its replica and three Sentinels on free ports: a small Redis HA.

    ``start`` returns once every Sentinel knows the replica and the two other
    Sentinels, so a failover can be voted at once. ``stop`` stops all of them.
    """

    def __init__(
        self, master_name: str = "mymaster", sentinels: int = 3, password: str | None = None
    ) -> None:
        self.master = RedisServer()
        self.replica = RedisServer(options=("--replicaof", "127.0.0.1", str(self.master.port)))
        self.sentinels = [
            RedisSentinel(self.master.port, master_name=master_name, password=password)
            for _ in range(sentinels)
        ]
        self.master_name = master_name

    @property
    def addresses(self) -> str:
        """``REDIS_SENTINELS``' value."""
        return ",".join(sentinel.address for sentinel in self.sentinels)

    def start(self, timeout: float = 20.0) -> None:
        try:
            self.master.start()
            self.replica.start()
            for sentinel in self.sentinels:
                sentinel.start()
            self._wait_known(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_known(self, timeout: float) -> None:
        # Sentinels learn of each other and of the replica from the master's
        # hello messages (every 2 s) and INFO (every 10 s until known): no event
        # to wait on but their own answers.
        others = len(self.sentinels) - 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if all(
                    self._count(s, "replicas") == 1 and self._count(s, "sentinels") == others
                    for s in self.sentinels
                ):
                    return
            time.sleep(0.1)
        raise RuntimeError("the Sentinels did not find each other and the replica in time")

    def _count(self, sentinel: RedisSentinel, what: str) -> int:
        # A nested array flattens to name/value pairs; each entry has one "runid".
        reply = sentinel.command("SENTINEL", what, self.master_name)
        return reply.count("runid")

    def wait_promoted(self, old: tuple[str, int], timeout: float = 20.0) -> tuple[str, int]:
        """Wait until every Sentinel names a master other than ``old``; return it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            addresses = {sentinel.master_address() for sentinel in self.sentinels}
            if len(addresses) == 1 and (address := addresses.pop()) not in (None, old):
                assert address is not None
                return address
            time.sleep(0.1)
        raise RuntimeError("no replica was promoted in time")

    def stop(self) -> None:
        for sentinel in self.sentinels:
            sentinel.stop()
        self.replica.stop()
        self.master.stop()

    def __enter__(self) -> SentinelSetup:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
