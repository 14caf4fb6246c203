"""Idle users (no session, pruned from ``bot:active:{p}``) get what their PO writes, within seconds.

Real relays in the test's loop, real Redis (keyspace notifications and
all), the fake Telegram, and the fake API for "is the user still known?".
An idle user is set up as a prune leaves them: a reply cursor in
``bot:cursor:{p}``, their chat in ``bot:chats:{p}``, no session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
import redis.asyncio as aioredis

from services.fakes.api import FakeApi
from services.fakes.redis_server import RedisServer
from services.fakes.telegram import FakeTelegram
from services.fakes.workers import FakeWorkerManager
from services.relay import contracts, keyspace
from shared import keys
from shared.connections import text
from shared.schemas import DATA_FIELD
from tests.plugins.processes import INTERNAL_KEY
from tests.services.relay.conftest import (
    StartRelay,
    answered,
    chat_of,
    take_over,
    wait_for_value,
    wait_until,
)

USER = 31
CHAT = chat_of(USER)
IDLE_BASE = 100_000
"""The 10,000 other idle users are ``IDLE_BASE`` to ``IDLE_BASE + 9,999``."""
DELIVERED_WITHIN_S = 5.0
"""Far below IDLE_SWEEP_S's default (300 s): only a notification delivers this fast."""


def output_stream(profile: str, user_id: int) -> str:
    contract = contracts.for_name(profile)
    assert isinstance(contract, contracts.SeedContract | contracts.WorkerStreamsContract)
    return contract.output_stream(user_id)


def output_fields(profile: str, user_id: int, text: str) -> dict[Any, Any]:
    """An output entry as the profile's PO writes it."""
    if profile == "worker-streams":
        data: dict[str, Any] = {"content": text, "status": "success"}
    else:
        data = {"request_id": f"po-{text}", "user_id": user_id, "text": text, "is_final": True}
    return {DATA_FIELD: msgspec.json.encode(data)}


async def po_writes(redis: aioredis.Redis, profile: str, user_id: int, text: str) -> str:
    """The user's PO writes ``text`` to their output stream: the entry id."""
    stream = output_stream(profile, user_id)
    entry_id: Any = await redis.xadd(stream, output_fields(profile, user_id, text))
    return str(entry_id.decode())


async def make_idle(redis: aioredis.Redis, profile: str, user_ids: range | list[int]) -> None:
    """Users as a prune leaves them: every output entry handled, chat kept, no session."""
    async with redis.pipeline(transaction=False) as pipe:
        for user_id in user_ids:
            pipe.xadd(output_stream(profile, user_id), output_fields(profile, user_id, "old"))
        ids = await pipe.execute()
    async with redis.pipeline(transaction=False) as pipe:
        for user_id, entry_id in zip(user_ids, ids, strict=True):
            partition = keys.partition_of(user_id)
            pipe.hset(keyspace.reply_cursor(partition), str(user_id), entry_id)
            pipe.hset(keyspace.chats(partition), str(user_id), str(chat_of(user_id)))
        await pipe.execute()


async def notification_flags(redis: aioredis.Redis) -> set[str]:
    config: Any = await redis.config_get("notify-keyspace-events")
    return set(text(next(iter(config.values()))))


async def stream_events(redis: aioredis.Redis) -> bool:
    """Whether Redis publishes keyspace events of stream commands."""
    flags = await notification_flags(redis)
    return "K" in flags and bool(flags & {"t", "A"})


async def cursor_of(redis: aioredis.Redis, user_id: int) -> str | None:
    raw: Any = await redis.hget(keyspace.reply_cursor(keys.partition_of(user_id)), str(user_id))
    return raw.decode() if raw is not None else None


@pytest.fixture
def api(fake_api: FakeApi) -> dict[str, str]:
    """The relay's environment for the fake API, which knows ``USER``."""
    fake_api.add_user(CHAT, user_id=USER)
    return {"API_URL": fake_api.url, "INTERNAL_API_KEY": INTERNAL_KEY}


@pytest.fixture
async def own_redis() -> AsyncIterator[tuple[str, aioredis.Redis]]:
    """A redis-server of the test's own (URL, client): its CONFIG changes touch no other test.

    The suite's server may be shared by the xdist workers (``REDIS_URL``);
    ``notify-keyspace-events`` is the server's, not a database's.
    """
    with RedisServer() as server:
        client = aioredis.Redis.from_url(server.url)
        try:
            yield server.url, client
        finally:
            await client.aclose()


@pytest.mark.parametrize("po_contract", ["seed", "worker-streams"])
async def test_a_reply_25_h_after_the_last_message_arrives_in_seconds_among_10000_idle_users(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
    api: dict[str, str],
    po_contract: str,
) -> None:
    await make_idle(redis, po_contract, range(IDLE_BASE, IDLE_BASE + 10_000))
    relay = await start_relay("relay-a", **api)
    await answered(fake_telegram, redis, USER, "hi")
    relay = await take_over(relay, start_relay, USER, **api)  # cold there: the prune may take them
    # 25 h later: the session and the chat key expired, the prune forgot the user.
    await redis.delete(keys.session(USER), keys.user_chat(USER))
    await relay.relay.replies.prune()
    assert not relay.relay.replies.tracks(USER)

    await po_writes(redis, po_contract, USER, "your build is ready")

    await fake_telegram.wait_for_messages(CHAT, 2, timeout=DELIVERED_WITHIN_S)
    assert fake_telegram.chat(CHAT).texts == ["echo: hi", "your build is ready"]


async def test_with_keyspace_notifications_switched_off_the_sweep_still_delivers(
    fake_telegram: FakeTelegram,
    own_redis: tuple[str, aioredis.Redis],
    start_relay: StartRelay,
    api: dict[str, str],
) -> None:
    url, redis = own_redis
    await make_idle(redis, "seed", [USER])
    relay = await start_relay(REDIS_URL=url, IDLE_SWEEP_S="0.5", **api)
    await wait_until(lambda: relay.relay.owns(keys.partition_of(USER)))
    await wait_for_value(lambda: stream_events(redis), True)  # the relay switched them on
    await redis.config_set("notify-keyspace-events", "")

    await po_writes(redis, "seed", USER, "reminder")

    await fake_telegram.wait_for_messages(CHAT, 1, timeout=DELIVERED_WITHIN_S)
    assert fake_telegram.chat(CHAT).texts == ["reminder"]


async def test_a_reply_written_while_no_relay_owned_the_partition_is_delivered_after_the_takeover(
    fake_telegram: FakeTelegram,
    redis: aioredis.Redis,
    start_relay: StartRelay,
    api: dict[str, str],
) -> None:
    await make_idle(redis, "seed", [USER])
    first = await start_relay("relay-a", **api)
    await wait_until(lambda: first.relay.owns(keys.partition_of(USER)))
    await first.stopped()

    await po_writes(redis, "seed", USER, "written while nobody listened")
    await start_relay("relay-b", **api)  # the notification went to nobody: the sweep finds it

    await fake_telegram.wait_for_messages(CHAT, 1, timeout=10)
    assert fake_telegram.chat(CHAT).texts == ["written while nobody listened"]


async def test_a_user_the_api_no_longer_knows_gets_nothing_and_the_next_user_still_gets_theirs(
    fake_telegram: FakeTelegram,
    redis: aioredis.Redis,
    start_relay: StartRelay,
    api: dict[str, str],
) -> None:
    removed = USER + 1  # not in the fake API
    await make_idle(redis, "seed", [removed, USER])
    relay = await start_relay(**api)
    await wait_until(lambda: relay.relay.owns(keys.partition_of(removed)))

    await po_writes(redis, "seed", removed, "for nobody")
    last = await po_writes(redis, "seed", removed, "for nobody either")
    await po_writes(redis, "seed", USER, "for you")

    await fake_telegram.wait_for_messages(CHAT, 1, timeout=DELIVERED_WITHIN_S)
    await wait_for_value(lambda: cursor_of(redis, removed), last)
    assert fake_telegram.chat(chat_of(removed)).sent == []
    assert fake_telegram.chat(CHAT).texts == ["for you"]


async def test_a_woken_users_reply_is_delivered_once_though_notification_and_sweep_both_find_it(
    fake_telegram: FakeTelegram,
    redis: aioredis.Redis,
    start_relay: StartRelay,
    api: dict[str, str],
) -> None:
    await make_idle(redis, "seed", [USER])
    relay = await start_relay(IDLE_SWEEP_S="0.05", **api)  # sweeping all the time
    await wait_until(lambda: relay.relay.owns(keys.partition_of(USER)))

    await po_writes(redis, "seed", USER, "one")
    await fake_telegram.wait_for_messages(CHAT, 1, timeout=DELIVERED_WITHIN_S)
    last = await po_writes(redis, "seed", USER, "two")
    await fake_telegram.wait_for_messages(CHAT, 2, timeout=DELIVERED_WITHIN_S)
    await wait_for_value(lambda: cursor_of(redis, USER), last)

    assert fake_telegram.chat(CHAT).texts == ["one", "two"]


async def test_the_relay_adds_stream_keyspace_events_to_the_flags_redis_already_had(
    own_redis: tuple[str, aioredis.Redis],
    start_relay: StartRelay,
    api: dict[str, str],
) -> None:
    url, redis = own_redis
    await redis.config_set("notify-keyspace-events", "Ex")  # someone's expiry events

    await start_relay(REDIS_URL=url, **api)

    await wait_for_value(lambda: notification_flags(redis), set("ExKt"))


async def test_where_redis_refuses_config_as_managed_ones_do_the_sweep_alone_delivers(
    fake_telegram: FakeTelegram,
    own_redis: tuple[str, aioredis.Redis],
    start_relay: StartRelay,
    api: dict[str, str],
) -> None:
    url, redis = own_redis  # a fresh server: keyspace notifications off, as by default
    await redis.execute_command(  # type: ignore[no-untyped-call]
        "ACL", "SETUSER", "relay", "on", ">secret", "~*", "&*", "+@all", "-config"
    )
    limited = url.replace("redis://", "redis://relay:secret@", 1)
    await make_idle(redis, "seed", [USER])
    await start_relay(REDIS_URL=limited, IDLE_SWEEP_S="0.5", **api)

    await po_writes(redis, "seed", USER, "reminder")

    await fake_telegram.wait_for_messages(CHAT, 1, timeout=DELIVERED_WITHIN_S)
    assert fake_telegram.chat(CHAT).texts == ["reminder"]
    assert not await stream_events(redis)
