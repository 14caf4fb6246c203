"""Redis through Sentinel: a real master, replica and three Sentinels started here.

Every process's clients come from ``shared.connections.redis_client``; with
``REDIS_SENTINELS`` set they find the master through the Sentinels, and after a
``kill -9`` of the master the same client object reaches the promoted replica
once the caller retries, as the processes' loops do on ``RedisError``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from services.fakes.api import FakeApi
from services.fakes.redis_server import SentinelSetup, free_port
from services.fakes.telegram import FakeTelegram
from shared import keys
from shared.connections import redis_client
from shared.schemas import ProvisionerResult, encode_entry
from shared.settings import BaseSettings, SettingsError, load
from tests.plugins.processes import StartService

RECOVERY_S = 10.0
"""How long a client may take to write again once a replica is promoted."""


def require_redis_server() -> None:
    """Skip where redis-server (which is also Sentinel) is missing, except in CI."""
    if shutil.which("redis-server") is None and not os.environ.get("CI"):
        pytest.skip("redis-server is not installed (make redis-server)")


@pytest.fixture
def sentinel_setup() -> Iterator[SentinelSetup]:
    require_redis_server()
    with SentinelSetup() as setup:
        yield setup


def sentinel_settings(setup: SentinelSetup, **extra: str) -> BaseSettings:
    # REDIS_URL names a port nothing listens on: only the Sentinels can lead to Redis.
    environ = {
        "TELEGRAM_BOT_TOKEN": "1:test",
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/3",
        "REDIS_SENTINELS": setup.addresses,
        **extra,
    }
    return load(BaseSettings, environ)


async def retry_until_written(client: aioredis.Redis, key: str, value: str) -> float:
    """SET ``key`` with retries on connection errors, as our loops retry; the seconds it took."""
    return await retrying(lambda: client.set(key, value))


async def retrying(command: Callable[[], Awaitable[object]]) -> float:
    """Run ``command`` until it passes a connection error, within ``RECOVERY_S``; seconds taken."""
    started = time.monotonic()
    while True:
        try:
            await command()
            return time.monotonic() - started
        except RedisConnectionError:
            if time.monotonic() - started > RECOVERY_S:
                raise
            await asyncio.sleep(0.1)


async def wait_blocked(server: aioredis.Redis) -> None:
    """Until a client is blocked in a read on ``server`` (bounded: Redis has no event for it)."""
    for _ in range(200):
        if (await server.info("clients"))["blocked_clients"] >= 1:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no read blocked on the master")


async def test_a_client_with_sentinels_writes_and_reads_through_the_master(
    sentinel_setup: SentinelSetup,
) -> None:
    client = redis_client(sentinel_settings(sentinel_setup))
    master = aioredis.Redis(port=sentinel_setup.master.port, db=3)
    try:
        await client.set("test:sentinel:key", "value")
        assert await client.get("test:sentinel:key") == b"value"
        # On the master itself, in the database REDIS_URL names.
        assert await master.get("test:sentinel:key") == b"value"
    finally:
        await client.aclose()
        await master.aclose()


async def test_the_same_client_writes_to_the_promoted_replica_after_the_master_is_killed(
    sentinel_setup: SentinelSetup,
) -> None:
    client = redis_client(sentinel_settings(sentinel_setup))
    replica = aioredis.Redis(port=sentinel_setup.replica.port, db=3)
    try:
        await client.set("test:sentinel:before", "1")
        old = sentinel_setup.sentinels[0].master_address()
        assert old == ("127.0.0.1", sentinel_setup.master.port)

        sentinel_setup.master.kill()  # kill -9
        new = await asyncio.to_thread(sentinel_setup.wait_promoted, old)
        assert new == ("127.0.0.1", sentinel_setup.replica.port)

        took = await retry_until_written(client, "test:sentinel:after", "2")
        assert took < RECOVERY_S
        assert await replica.get("test:sentinel:after") == b"2"
    finally:
        await client.aclose()
        await replica.aclose()


async def test_a_blocking_read_cut_by_the_failover_resumes_on_the_new_master(
    sentinel_setup: SentinelSetup,
) -> None:
    client = redis_client(sentinel_settings(sentinel_setup), blocking=True)
    master = aioredis.Redis(port=sentinel_setup.master.port)
    replica = aioredis.Redis(port=sentinel_setup.replica.port, db=3)
    stream = "test:sentinel:stream"
    try:
        await client.xadd(stream, {"n": "1"}, id="1-0")

        async def read() -> object:
            return await client.xread({stream: "1-0"}, block=20_000)

        reading = asyncio.create_task(read())
        await wait_blocked(master)
        await master.aclose()
        old = sentinel_setup.sentinels[0].master_address()
        sentinel_setup.master.kill()
        with pytest.raises(RedisError):
            await reading
        assert old is not None
        await asyncio.to_thread(sentinel_setup.wait_promoted, old)

        # The loop's next turn: retry the same read until the new master answers.
        await replica.xadd(stream, {"n": "2"}, id="2-0")
        deadline = time.monotonic() + RECOVERY_S
        while True:
            try:
                reply = await client.xread({stream: "1-0"}, block=1000)
                break
            except RedisConnectionError:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.1)
        assert reply == [[stream.encode(), [(b"2-0", {b"n": b"2"})]]]
    finally:
        await client.aclose()
        await replica.aclose()


async def test_sentinels_with_a_password_are_reached_with_redis_sentinel_password() -> None:
    require_redis_server()
    with SentinelSetup(password="sentinel-secret") as setup:
        refused = redis_client(sentinel_settings(setup))
        client = redis_client(sentinel_settings(setup, REDIS_SENTINEL_PASSWORD="sentinel-secret"))
        try:
            with pytest.raises(RedisConnectionError, match="No master found") as caught:
                await refused.ping()
            assert "sentinel-secret" not in str(caught.value)
            assert await client.ping() is True
        finally:
            await refused.aclose()
            await client.aclose()


def provisioning_result(handle: str) -> Any:
    """A provisioner result's stream entry (its fields, as ``xadd`` takes them)."""
    return encode_entry(
        ProvisionerResult(server_handle=handle, status="success", request_id=handle)
    )


async def test_a_notifier_process_tells_the_admin_before_and_after_a_failover(
    sentinel_setup: SentinelSetup,
    fake_telegram: FakeTelegram,
    fake_api: FakeApi,
    start_service: StartService,
) -> None:
    admin = 5001
    fake_api.add_user(admin, is_admin=True)
    settings = sentinel_settings(sentinel_setup)
    notifier = start_service(
        "notifier", REDIS_URL=settings.redis_url, REDIS_SENTINELS=sentinel_setup.addresses
    )
    client = redis_client(settings)
    try:
        await notifier.wait_for_event("stream_group_created", timeout=30)
        await client.xadd(keys.PROVISIONER_RESULTS, provisioning_result("srv-before"))
        await fake_telegram.wait_for_messages(admin, 1, timeout=30)
        # Replicated before the kill: this test is about reconnecting, not about
        # what asynchronous replication may lose.
        assert await client.wait(1, 5000) == 1

        old = sentinel_setup.sentinels[0].master_address()
        assert old is not None
        sentinel_setup.master.kill()
        await asyncio.to_thread(sentinel_setup.wait_promoted, old)
        await retrying(
            lambda: client.xadd(keys.PROVISIONER_RESULTS, provisioning_result("srv-after"))
        )

        # The same process, not restarted, reads from the new master and sends.
        await fake_telegram.wait_for_messages(admin, 2, timeout=30)
        assert "srv-after" in fake_telegram.chat(admin).texts[1]
        assert notifier.returncode is None
    finally:
        await client.aclose()


def test_a_sentinel_entry_without_a_port_is_refused_naming_the_variable() -> None:
    environ = {"TELEGRAM_BOT_TOKEN": "1:test", "REDIS_SENTINELS": "127.0.0.1:26379,sentinel-b"}
    with pytest.raises(SettingsError, match=r"^REDIS_SENTINELS: expected host:port"):
        load(BaseSettings, environ)


def test_sentinel_entries_are_read_as_a_comma_list() -> None:
    environ = {"TELEGRAM_BOT_TOKEN": "1:test", "REDIS_SENTINELS": "a:26379, b:26380"}
    settings = load(BaseSettings, environ)
    assert settings.redis_sentinels == ("a:26379", "b:26380")
    assert settings.redis_sentinel_master == "mymaster"
