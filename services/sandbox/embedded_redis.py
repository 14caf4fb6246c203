"""The sandbox's own ``redis-server``: a free loopback port, nothing kept on disk.

Like ``services.fakes.redis_server`` (whose ``free_port`` it uses), but
started as a child of the sandbox's kind (see ``children``), so Ctrl-C does
not stop Redis before the processes that use it.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from services.fakes.redis_server import free_port
from services.sandbox import children

START_TIMEOUT_S = 10.0


class RedisFailed(RuntimeError):
    """``redis-server`` could not be started; the message says why."""


class RedisMissing(RedisFailed):
    """``redis-server`` is not installed."""


class EmbeddedRedis:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self._dir = workdir / "redis"
        self._process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisMissing(
                "redis-server is not installed: `make run` installs it "
                "(apt-get install redis-server), or set REDIS_URL to a Redis you have"
            )
        self._dir.mkdir(parents=True, exist_ok=True)
        self._process = await children.spawn(
            [
                binary,
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self._dir)),
                *("--loglevel", "warning"),
            ],
            output="discard",
        )
        await self._wait_ready()

    async def _wait_ready(self) -> None:
        # redis-server gives no readiness signal without a config file and a
        # pidfile dance: ask it until it answers.
        client = aioredis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                while True:
                    assert self._process is not None
                    if self._process.returncode is not None:
                        raise RedisFailed(f"redis-server exited with {self._process.returncode}")
                    try:
                        await client.ping()
                        return
                    except RedisError:
                        await asyncio.sleep(0.02)
        except TimeoutError:
            raise RedisFailed(f"redis-server did not answer on port {self.port}") from None
        finally:
            await client.aclose()

    async def stop(self) -> None:
        if self._process is not None:
            await children.stop(self._process, "redis-server", timeout=5.0)
            self._process = None
