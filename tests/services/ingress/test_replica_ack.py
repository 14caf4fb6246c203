"""REDIS_MIN_REPLICAS_ACK: an update is confirmed to Telegram only once N replicas have it.

A real master and a real replica (``--replicaof``) on free ports; the
ingress runs in-process against the fake Telegram. Stopping the replica
(SIGKILL) is what a lagging or lost replica looks like to ``WAIT``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis
import structlog
from prometheus_client.parser import text_string_to_metric_families

from services.fakes.redis_server import RedisServer
from services.fakes.telegram import FakeTelegram
from services.ingress.app import Ingress
from services.ingress.intake import Intake, ReplicasShort
from services.ingress.settings import IngressSettings
from shared.settings import SettingsError, load
from tests.services.ingress.conftest import (
    KNOWN,
    StartIngress,
    handled,
    queued,
    webhook_env_on_a_free_port,
)
from tests.services.ingress.test_intake import batch_of, events, until

ONE = {"REDIS_MIN_REPLICAS_ACK": "1", "REDIS_WAIT_TIMEOUT_MS": "200"}


@pytest.fixture
def master() -> Iterator[RedisServer]:
    # Redis waits 5 s by default before a full sync, for more replicas to share it.
    with RedisServer(options=("--repl-diskless-sync-delay", "0")) as server:
        yield server


@pytest.fixture
def replica(master: RedisServer) -> Iterator[RedisServer]:
    options = ("--replicaof", "127.0.0.1", str(master.port), "--enable-debug-command", "yes")
    with RedisServer(options=options) as server:
        yield server


@pytest.fixture
async def on_master(master: RedisServer, replica: RedisServer) -> AsyncIterator[aioredis.Redis]:
    """A client of the master, once the replica has synced (a write it acknowledged)."""
    client = aioredis.Redis.from_url(master.url)
    await client.set("synced", "1")
    assert await client.wait(1, 10_000) == 1, "the replica never synced"
    try:
        yield client
    finally:
        await client.aclose()


def wait_short_count(ingress: Ingress) -> float:
    page = ingress.metrics.exposition().decode()
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            if sample.name == "telegram_bot_redis_wait_short_total":
                return sample.value
    raise AssertionError("no telegram_bot_redis_wait_short_total counter")


async def texts_stored(on_master: aioredis.Redis) -> list[str]:
    return [message.text for message in await queued(on_master)]


@pytest.mark.usefixtures("known_user")
async def test_with_the_replica_up_an_update_is_confirmed_and_stored(
    fake_telegram: FakeTelegram,
    master: RedisServer,
    on_master: aioredis.Redis,
    start_ingress: StartIngress,
) -> None:
    await start_ingress(REDIS_URL=master.url, **ONE)

    await handled(fake_telegram, fake_telegram.inject_message(KNOWN, "replicated"))

    assert await texts_stored(on_master) == ["replicated"]


@pytest.mark.usefixtures("known_user")
async def test_polling_holds_the_offset_while_no_replica_acknowledges_and_stores_once_after(
    fake_telegram: FakeTelegram,
    master: RedisServer,
    replica: RedisServer,
    on_master: aioredis.Redis,
    start_ingress: StartIngress,
) -> None:
    running = await start_ingress(REDIS_URL=master.url, **ONE)
    replica.kill()

    with structlog.testing.capture_logs() as logs:
        update = fake_telegram.inject_message(KNOWN, "wait for the replica")
        await until(lambda: bool(events(logs, "redis_wait_short")))
        assert update in fake_telegram.pending_updates, "not confirmed: the offset did not move"
        assert wait_short_count(running.ingress) >= 1

        replica.restart()
        await handled(fake_telegram, update)

    assert await texts_stored(on_master) == ["wait for the replica"], "stored exactly once"
    [short] = events(logs, "redis_wait_short")  # once, however many retries
    assert (short["acked"], short["needed"]) == (0, 1)
    assert events(logs, "redis_wait_recovered")


@pytest.mark.usefixtures("known_user")
async def test_a_webhook_answers_503_while_no_replica_acknowledges_and_200_to_the_redelivery(
    fake_telegram: FakeTelegram,
    master: RedisServer,
    replica: RedisServer,
    on_master: aioredis.Redis,
    start_ingress: StartIngress,
) -> None:
    await start_ingress(REDIS_URL=master.url, **ONE, **webhook_env_on_a_free_port())
    replica.kill()

    update = fake_telegram.inject_message(KNOWN, "via webhook")
    await fake_telegram.wait_for(
        lambda: len(fake_telegram.webhook_deliveries) >= 2, what="two refused deliveries"
    )
    replica.restart()
    await handled(fake_telegram, update)

    statuses = [delivery.status for delivery in fake_telegram.webhook_deliveries]
    assert statuses[0] == 503
    assert statuses[-1] == 200
    assert await texts_stored(on_master) == ["via webhook"], "stored exactly once"


@pytest.mark.usefixtures("known_user")
async def test_an_answer_to_an_unconfirmed_update_is_sent_once(
    fake_telegram: FakeTelegram,
    master: RedisServer,
    replica: RedisServer,
    on_master: aioredis.Redis,
    start_ingress: StartIngress,
) -> None:
    running = await start_ingress(REDIS_URL=master.url, **ONE)
    replica.kill()

    with structlog.testing.capture_logs() as logs:
        update = fake_telegram.inject_message(KNOWN, "/help")
        await until(lambda: bool(events(logs, "redis_wait_short")))
        await asyncio.wait_for(running.ingress.courier.join(), 10)
        assert len(fake_telegram.chat(KNOWN).texts) == 1, "stored on the master: sent"
        assert update in fake_telegram.pending_updates

        replica.restart()
        await handled(fake_telegram, update)

    assert len(fake_telegram.chat(KNOWN).texts) == 1, "the retry found it stored: not again"


@pytest.mark.usefixtures("known_user")
async def test_without_replicas_ack_an_update_is_confirmed_with_the_replica_down(
    fake_telegram: FakeTelegram,
    master: RedisServer,
    replica: RedisServer,
    on_master: aioredis.Redis,
    start_ingress: StartIngress,
) -> None:
    await start_ingress(REDIS_URL=master.url)
    replica.kill()

    with structlog.testing.capture_logs() as logs:
        await handled(fake_telegram, fake_telegram.inject_message(KNOWN, "as today"))

    assert await texts_stored(on_master) == ["as today"]
    assert not events(logs, "redis_wait_short")


async def test_an_update_stored_before_waits_for_the_replica_again_when_redelivered(
    master: RedisServer, replica: RedisServer, on_master: aioredis.Redis
) -> None:
    replica_client = aioredis.Redis.from_url(replica.url)
    # The waiting intake's connection wrote before, and the replica has that: WAIT
    # counts its own connection's writes, not the earlier store made on another one.
    other = aioredis.Redis.from_url(master.url)
    await other.set("written", "1")
    assert await other.wait(1, 10_000) == 1
    try:
        # The replica stops reading its link: the next write is on the master alone.
        asleep = replica_client.execute_command("DEBUG", "SLEEP", "2")  # type: ignore[no-untyped-call]
        sleeping = asyncio.create_task(asleep)
        await asyncio.sleep(0.1)  # DEBUG SLEEP gives no "asleep" event to await
        assert await Intake(on_master).store(batch_of(1, "first")) == []

        waiting = Intake(other, min_replicas_ack=1, wait_timeout_ms=300)
        with pytest.raises(ReplicasShort) as short:
            await waiting.store(batch_of(1, "first"))  # Telegram's redelivery: a duplicate

        assert short.value.acked == 0
        await sleeping
        assert await waiting.store(batch_of(1, "first")) == [], "replicated now: confirmed"
        assert await texts_stored(on_master) == ["first"]
    finally:
        await replica_client.aclose()
        await other.aclose()


@pytest.mark.parametrize(
    ("variable", "value"),
    [("REDIS_MIN_REPLICAS_ACK", "-1"), ("REDIS_WAIT_TIMEOUT_MS", "0")],
)
def test_a_negative_replica_count_or_a_zero_wait_timeout_is_refused_at_start(
    fake_telegram: FakeTelegram, variable: str, value: str
) -> None:
    env: dict[str, Any] = {"TELEGRAM_BOT_TOKEN": fake_telegram.token, variable: value}
    with pytest.raises(SettingsError, match=variable):
        load(IngressSettings, env)
