"""Webhook mode: the secret guards the door, and 200 means the update is safe in Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import msgspec
import pytest
import redis.asyncio as aioredis

from services.fakes.api import FakeApi
from services.fakes.redis_server import RedisServer
from services.fakes.telegram import Failure, FakeTelegram
from services.ingress.app import Ingress
from services.ingress.ordering import UserOrder
from shared.texts import RU
from tests.plugins.telegram import make_bot
from tests.services.ingress.conftest import (
    KNOWN,
    STRANGER,
    WEBHOOK_SECRET,
    StartIngress,
    Webhook,
    handled,
    ingress_settings,
    post,
    queued,
    refused_while_redis_is_down,
    update_from,
    webhook_env_on_a_free_port,
)


def encode(update: dict[str, Any]) -> bytes:
    return msgspec.json.encode(update)


async def test_the_webhook_is_set_with_the_secret_and_its_updates_are_forwarded(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, webhook: Webhook
) -> None:
    (call,) = fake_telegram.calls_to("setWebhook")
    assert call.params["url"] == webhook.url
    assert call.params["secret_token"] == WEBHOOK_SECRET
    assert sorted(call.params["allowed_updates"]) == [
        "callback_query",
        "edited_message",
        "message",
        "stopped_message_generation",
    ]

    update = fake_telegram.inject_message(KNOWN, "via webhook")
    await handled(fake_telegram, update)

    assert [m.text for m in await queued(redis)] == ["via webhook"]
    assert [d.status for d in fake_telegram.webhook_deliveries] == [200]


@pytest.mark.parametrize(
    ("secret", "body"),
    [
        (None, msgspec.json.encode(update_from(KNOWN, "hi"))),
        ("wrong", msgspec.json.encode(update_from(KNOWN, "hi"))),
        (WEBHOOK_SECRET[:-1], msgspec.json.encode(update_from(KNOWN, "hi"))),
        (WEBHOOK_SECRET + "x", msgspec.json.encode(update_from(KNOWN, "hi"))),
        ("wrong", b"{not json at all"),
    ],
    ids=["missing", "wrong", "prefix", "longer", "wrong-and-garbage"],
)
async def test_a_request_without_the_right_secret_gets_401_and_nothing_is_processed(
    fake_api: FakeApi,
    redis: aioredis.Redis,
    webhook: Webhook,
    http: aiohttp.ClientSession,
    secret: str | None,
    body: bytes,
) -> None:
    assert await post(http, webhook.url, body, secret) == 401

    assert fake_api.requests == []
    assert await queued(redis) == []


@pytest.mark.parametrize(
    "body",
    [
        b"{not json at all",
        b"\xff\xfe\x00garbage",
        b"[1, 2, 3]",
        msgspec.json.encode({"update_id": 5, "message": {"message_id": "x"}}),
        msgspec.json.encode({"update_id": 6, "future_update": {"from": {"id": KNOWN}}}),
    ],
    ids=["not-json", "not-utf8", "not-an-object", "malformed-update", "unknown-type"],
)
async def test_a_body_that_will_never_be_an_update_is_answered_200_so_it_is_not_retried(
    fake_api: FakeApi,
    redis: aioredis.Redis,
    webhook: Webhook,
    http: aiohttp.ClientSession,
    body: bytes,
) -> None:
    assert await post(http, webhook.url, body) == 200

    assert fake_api.requests == []
    assert await queued(redis) == []
    assert not webhook.running.task.done()


SendWhileRedisIsDown = Callable[[int, str], Awaitable[None]]


@pytest.fixture
async def send_while_redis_is_down(
    fake_telegram: FakeTelegram,
    start_ingress: StartIngress,
    webhook_env: dict[str, str],
    own_redis: RedisServer,
) -> SendWhileRedisIsDown:
    """A webhook ingress on ``own_redis``; the call sends ``text`` from ``chat``.

    It is refused (503) twice while Redis is down; the call returns once it is handled after.
    """
    await start_ingress(REDIS_URL=own_redis.url, **webhook_env)

    async def send(chat: int, text: str) -> None:
        update = await refused_while_redis_is_down(fake_telegram, own_redis, chat, text)
        own_redis.start()
        await handled(fake_telegram, update)

    return send


@pytest.mark.usefixtures("known_user")
async def test_a_webhook_update_is_refused_while_redis_is_down_and_forwarded_once_after(
    fake_telegram: FakeTelegram,
    own_redis: RedisServer,
    send_while_redis_is_down: SendWhileRedisIsDown,
) -> None:
    await send_while_redis_is_down(KNOWN, "wait for me")

    statuses = [d.status for d in fake_telegram.webhook_deliveries]
    assert statuses[-1] == 200
    assert set(statuses[:-1]) == {503}
    client = aioredis.Redis.from_url(own_redis.url)
    try:
        assert [m.text for m in await queued(client)] == ["wait for me"]
    finally:
        await client.aclose()


async def test_a_stranger_refused_while_redis_is_down_is_told_once_redis_is_back(
    fake_telegram: FakeTelegram, send_while_redis_is_down: SendWhileRedisIsDown
) -> None:
    await send_while_redis_is_down(STRANGER, "let me in")
    await fake_telegram.wait_for_messages(STRANGER, 1, timeout=10)

    (rejection,) = fake_telegram.chat(STRANGER).texts
    assert rejection.startswith(RU.access_denied)


@pytest.mark.usefixtures("known_user")
async def test_a_first_message_refused_while_redis_is_down_still_brings_the_keyboard(
    fake_telegram: FakeTelegram, send_while_redis_is_down: SendWhileRedisIsDown
) -> None:
    await send_while_redis_is_down(KNOWN, "hello")
    await fake_telegram.wait_for_messages(KNOWN, 1, timeout=10)

    assert fake_telegram.chat(KNOWN).texts == [RU.keyboard_note]


async def test_a_sigterm_while_set_webhook_hangs_stops_the_ingress_at_once(
    fake_telegram: FakeTelegram,
    fake_api: FakeApi,
    redis_url: str,
    webhook_env: dict[str, str],
) -> None:
    fake_telegram.fail_next("setWebhook", Failure.slow(60))
    settings = ingress_settings(fake_telegram, fake_api, redis_url, **webhook_env)
    async with make_bot(fake_telegram) as bot, Ingress.open(settings, bot=bot) as ingress:
        stop = asyncio.Event()
        task = asyncio.create_task(ingress.run(stop))
        await fake_telegram.wait_for(
            lambda: fake_telegram.failures_left == 0, what="setWebhook in flight"
        )
        stop.set()
        assert await asyncio.wait_for(task, 10) == 0  # not the 60 s of setWebhook


def duplicates(ingress: Ingress) -> float:
    """The updates ``ingress`` turned away as already stored (its metric)."""
    page = ingress.metrics.exposition().decode()
    line = 'telegram_bot_updates_rejected_total{reason="duplicate",service="ingress"} '
    found = [row for row in page.splitlines() if row.startswith(line)]
    return float(found[0].removeprefix(line)) if found else 0.0


async def test_an_update_delivered_twice_is_stored_once_and_counted_as_a_duplicate(
    redis: aioredis.Redis, webhook: Webhook, http: aiohttp.ClientSession
) -> None:
    body = msgspec.json.encode(update_from(KNOWN, "twice", update_id=77))

    assert await post(http, webhook.url, body) == 200
    assert await post(http, webhook.url, body) == 200  # Telegram's retry

    assert [m.text for m in await queued(redis)] == ["twice"]
    assert duplicates(webhook.running.ingress) == 1


@pytest.mark.parametrize("concurrently", [False, True], ids=["one-after-the-other", "at-once"])
async def test_one_update_posted_to_two_replicas_is_forwarded_exactly_once(
    fake_telegram: FakeTelegram,
    redis: aioredis.Redis,
    known_user: dict[str, Any],
    start_ingress: StartIngress,
    http: aiohttp.ClientSession,
    concurrently: bool,
) -> None:
    # Two webhook ingresses behind one load balancer: nothing shared but Redis.
    first_env, second_env = webhook_env_on_a_free_port(), webhook_env_on_a_free_port()
    first = await start_ingress(**first_env)
    second = await start_ingress(**second_env)
    await fake_telegram.wait_for_call("setWebhook", count=2)  # the second one listens too
    urls = [first_env["WEBHOOK_URL"], second_env["WEBHOOK_URL"]]
    body = msgspec.json.encode(update_from(KNOWN, "to both", update_id=99))

    if concurrently:
        statuses = list(await asyncio.gather(*(post(http, url, body) for url in urls)))
    else:
        statuses = [await post(http, url, body) for url in urls]

    assert statuses == [200, 200]
    (message,) = await queued(redis)
    assert (message.text, message.update_id) == ("to both", 99)
    assert duplicates(first.ingress) + duplicates(second.ingress) == 1


async def test_one_users_updates_posted_at_once_to_two_replicas_are_stored_in_order(
    fake_api: FakeApi,
    fake_telegram: FakeTelegram,
    redis: aioredis.Redis,
    known_user: dict[str, Any],
    start_ingress: StartIngress,
    http: aiohttp.ClientSession,
) -> None:
    # Telegram posts over up to 40 connections; each replica has its own auth cache.
    first_env, second_env = webhook_env_on_a_free_port(), webhook_env_on_a_free_port()
    await start_ingress(**first_env)
    await start_ingress(**second_env)
    await fake_telegram.wait_for_call("setWebhook", count=2)
    asked = len(fake_api.requests_to("/api/users/"))
    fake_api.delay_next("/api/users/", 1.0)  # the first one's auth is slow

    earlier = asyncio.create_task(
        post(http, first_env["WEBHOOK_URL"], encode(update_from(KNOWN, "first", 301)))
    )
    await fake_api.wait_for_request("/api/users/", count=asked + 1)  # first is in flight
    later = post(http, second_env["WEBHOOK_URL"], encode(update_from(KNOWN, "second", 302)))
    statuses = [await later, await earlier]

    assert statuses == [200, 200]
    assert [(m.text, m.update_id) for m in await queued(redis)] == [
        ("first", 301),
        ("second", 302),
    ]


async def test_an_update_left_in_flight_by_a_dead_replica_holds_the_next_only_a_while(
    redis: aioredis.Redis,
    known_user: dict[str, Any],
    start_ingress: StartIngress,
    webhook_env: dict[str, str],
    http: aiohttp.ClientSession,
) -> None:
    await start_ingress(WEBHOOK_ORDER_WAIT_S="0.3", **webhook_env)
    # A replica marked update 400 in flight, then was killed: it never unmarks it.
    dead = UserOrder(redis, wait_s=0.3)
    await dead.arrive(update_from(KNOWN, "lost with its replica", 400))

    async with asyncio.timeout(5):
        body = encode(update_from(KNOWN, "after the crash", 401))
        assert await post(http, webhook_env["WEBHOOK_URL"], body) == 200

    assert [m.text for m in await queued(redis)] == ["after the crash"]
