"""Fixtures shared by every test: a real Redis, isolated per test.

Where the Redis comes from, in order: ``REDIS_URL`` when set; a
testcontainers Redis when a Docker engine answers; otherwise a
``redis-server`` started on a free port for the session. Each test gets its
own database number, flushed before and after.
"""

from __future__ import annotations

import itertools
import os
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis.asyncio as aioredis

from services.fakes.redis_server import RedisServer

# Fixtures for the fakes live beside them, one plugin module per neighbour.
pytest_plugins = [
    "tests.plugins.telegram",
    "tests.plugins.api",
    "tests.plugins.workers",
    "tests.plugins.processes",
]


def _docker_engine_reachable() -> bool:
    # Creating a container object without an engine raises and leaks a
    # socket (DESIGN-NOTES), so look for the engine's socket first.
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        return False
    path = Path(host.removeprefix("unix://"))
    if not path.exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(0.5)
            sock.connect(str(path))
            sock.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            return b"OK" in sock.recv(256)
    except OSError:
        return False


def _with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    """The base URL of the Redis every test shares (database 0 is never used)."""
    if url := os.environ.get("REDIS_URL"):
        yield url
        return
    if _docker_engine_reachable():
        from testcontainers.community.redis import RedisContainer

        with RedisContainer("redis:7-alpine") as container:
            host = container.get_container_host_ip()
            port = container.get_exposed_port(6379)
            yield f"redis://{host}:{port}/0"
        return
    with RedisServer() as server:
        yield server.url


def _database_numbers() -> Iterator[int]:
    """Databases 1-15 in turn; a Redis shared by pytest-xdist workers is split between them.

    Each worker starts a redis-server (or container) of its own, except with
    ``REDIS_URL``: then worker ``gwN`` of ``M`` takes every M-th database from N + 1,
    so no two workers ever flush each other's.
    """
    numbers = list(range(1, 16))
    if os.environ.get("REDIS_URL"):
        count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
        worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
        numbers = numbers[worker::count]
    return itertools.cycle(numbers)


_databases = _database_numbers()


@pytest.fixture
async def redis_url(redis_server_url: str) -> AsyncIterator[str]:
    """A Redis URL whose database is this test's alone, empty at start and flushed after.

    Databases rotate through 1-15 so that a process a previous test left
    dying cannot write into this one's.
    """
    url = _with_db(redis_server_url, next(_databases))
    client = aioredis.Redis.from_url(url)
    await client.flushdb()
    try:
        yield url
    finally:
        await client.flushdb()
        await client.aclose()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()
