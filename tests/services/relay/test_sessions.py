"""Sessions (spec 4.3): which messages spawn a PO, and that one spawn gives one command.

One relay runs in the test's loop against the fake worker-manager; the
worker's status is scripted (or written straight into Redis, as the
worker-manager would).
"""

from __future__ import annotations

import msgspec
import pytest
import redis.asyncio as aioredis

from services.fakes.telegram import FakeTelegram
from services.fakes.workers import FakeWorkerManager
from services.relay.sessions import Lost, SessionForwarder
from shared import keys
from shared.schemas import IncomingMessage, POWorkerInput, decode_entry
from tests.services.relay.conftest import (
    StartRelay,
    answered,
    chat_of,
    entries,
    wait_for_value,
    wait_until,
    write_message,
)

USER = 7
WORKER = keys.po_worker_id(USER)


async def settled(redis: aioredis.Redis, user_id: int = USER) -> None:
    """Wait until no create is in flight for the user (the start watch saw the outcome)."""
    await wait_for_value(lambda: redis.exists(keys.spawn_guard(user_id)), 0)


async def first_po_answered(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_relay: StartRelay
) -> None:
    """A relay starts; the user's "one" spawns a PO, whose echo arrives; the spawn settles."""
    await start_relay()
    await answered(fake_telegram, redis, USER, "one")
    await settled(redis)


def balanced(*owned: frozenset[int]) -> bool:
    """Every partition owned, by exactly one relay, in shares that differ by one at most."""
    sizes = [len(o) for o in owned]
    every = frozenset().union(*owned)
    return len(every) == sum(sizes) == keys.PARTITIONS and max(sizes) - min(sizes) <= 1


async def test_the_first_message_spawns_the_po_with_the_contracts_command(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    await start_relay(PO_INSTRUCTIONS="Be the PO.", PO_ALLOWED_COMMANDS="git,make")

    entry_id = await write_message(redis, USER, "hello")

    await fake_telegram.wait_for_messages(chat_of(USER), 1, timeout=10)
    assert fake_telegram.chat(chat_of(USER)).texts == ["echo: hello"]
    [(_id, fields)] = await entries(redis, keys.WORKER_COMMANDS)
    assert msgspec.json.decode(fields[b"data"]) == {
        "version": "1",
        "correlation_id": fake_workers.commands[0].correlation_id,
        "timestamp": fake_workers.commands[0].timestamp,
        "command": "create",
        "request_id": fake_workers.commands[0].request_id,
        "config": {
            "name": WORKER,
            "worker_type": "po",
            "agent_type": "claude",
            "instructions": "Be the PO.",
            "allowed_commands": ["git", "make"],
            "capabilities": [],
            "env_vars": {"USER_ID": str(USER), "API_URL": "http://api:8000"},
        },
        "context": {"role": "product_owner", "user_telegram_id": str(chat_of(USER))},
    }
    assert await redis.get(keys.session(USER)) == WORKER.encode()
    assert 24 * 3600 - 60 < await redis.ttl(keys.session(USER)) <= 24 * 3600
    [(_id, fields)] = await entries(redis, keys.po_input(USER))
    po_input = decode_entry(fields, POWorkerInput)
    assert (po_input.request_id, po_input.user_id, po_input.text) == (entry_id, USER, "hello")
    assert (po_input.telegram_id, po_input.chat_id) == (chat_of(USER), chat_of(USER))


async def test_a_running_worker_is_reused_and_its_session_refreshed(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    await first_po_answered(fake_telegram, redis, start_relay)
    await redis.expire(keys.session(USER), 100)

    await write_message(redis, USER, "two")

    await fake_telegram.wait_for_messages(chat_of(USER), 2, timeout=10)
    assert fake_telegram.chat(chat_of(USER)).texts == ["echo: one", "echo: two"]
    assert len(fake_workers.commands) == 1
    assert await redis.ttl(keys.session(USER)) > 24 * 3600 - 60


@pytest.mark.parametrize("change", ["STOPPED", "FAILED", "status missing", "session expired"])
async def test_a_dead_or_unknown_worker_is_spawned_again(
    change: str,
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    await first_po_answered(fake_telegram, redis, start_relay)
    if change == "status missing":
        await redis.delete(keys.worker_status(WORKER))
    elif change == "session expired":
        await redis.delete(keys.session(USER))
    else:
        await fake_workers.set_status(USER, change)

    await write_message(redis, USER, "two")

    await fake_telegram.wait_for_messages(chat_of(USER), 2, timeout=10)
    assert fake_telegram.chat(chat_of(USER)).texts == ["echo: one", "echo: two"]
    assert len(fake_workers.commands) == 2


@pytest.mark.parametrize("status", ["STARTING", "BUILDING", "PAUSED"])
async def test_a_worker_coming_up_or_paused_gets_no_second_spawn(
    status: str,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    await redis.set(keys.session(USER), WORKER)
    await redis.hset(keys.worker_status(WORKER), mapping={"status": status})
    await start_relay()

    await write_message(redis, USER, "one")
    await write_message(redis, USER, "two")

    await wait_for_value(lambda: redis.xlen(keys.po_input(USER)), 2)
    assert fake_workers.commands == []
    assert await redis.xlen(keys.WORKER_COMMANDS) == 0


async def test_messages_while_the_first_spawn_is_unanswered_give_one_command(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    # The worker-manager writes nothing for a second: status missing all that time.
    fake_workers.script(USER, start_delay=1.0)
    await fake_workers.stop()
    await start_relay()

    for n in range(5):
        await write_message(redis, USER, f"m{n}")
    await wait_for_value(lambda: redis.xlen(keys.po_input(USER)), 5)
    await fake_workers.start()

    await fake_telegram.wait_for_messages(chat_of(USER), 5, timeout=15)
    assert fake_telegram.chat(chat_of(USER)).texts == [f"echo: m{n}" for n in range(5)]
    assert len(fake_workers.commands) == 1


@pytest.mark.parametrize("status", ["RUNNING", "STOPPED"])
async def test_a_plain_string_status_is_read_as_the_status(
    status: str,
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_workers.script(USER, plain_string_status=True)
    await fake_workers.set_status(USER, status)
    assert await redis.type(keys.worker_status(WORKER)) == b"string"
    await redis.set(keys.session(USER), WORKER)
    await start_relay()

    await write_message(redis, USER, "hello")

    await fake_telegram.wait_for_messages(chat_of(USER), 1, timeout=10)
    assert fake_telegram.chat(chat_of(USER)).texts == ["echo: hello"]
    assert len(fake_workers.commands) == (1 if status == "STOPPED" else 0)


async def test_a_status_is_read_whatever_its_case_and_spaces(
    fake_workers: FakeWorkerManager, redis: aioredis.Redis, start_relay: StartRelay
) -> None:
    await redis.set(keys.session(USER), WORKER)
    await redis.set(keys.worker_status(WORKER), " running\n")
    await start_relay()

    await write_message(redis, USER, "hello")

    await wait_for_value(lambda: redis.xlen(keys.po_input(USER)), 1)
    assert await redis.xlen(keys.WORKER_COMMANDS) == 0


async def test_two_relays_and_a_burst_of_first_messages_give_one_create_command(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_telegram.lift_flood_limits()
    first = await start_relay("relay-a")
    second = await start_relay("relay-b")
    await wait_until(
        lambda: balanced(first.relay.coordinator.owned, second.relay.coordinator.owned)
    )

    for n in range(10):
        await write_message(redis, USER, f"m{n}")

    await fake_telegram.wait_for_messages(chat_of(USER), 10, timeout=15)
    assert fake_telegram.chat(chat_of(USER)).texts == [f"echo: m{n}" for n in range(10)]
    assert len(fake_workers.commands) == 1


async def test_a_relay_that_lost_the_partition_forwards_and_spawns_nothing(
    redis: aioredis.Redis,
) -> None:
    partition = keys.partition_of(USER)
    await redis.set(f"bot:lease:{partition}", "relay-new#1")
    stale = SessionForwarder(
        redis,
        "relay-old#1",
        api_url="http://api:8000",
        instructions="",
        allowed_commands=["*"],
        start_timeout_s=60,
        typing_cap_ms=600_000,
    )
    message = IncomingMessage(
        user_id=USER, telegram_id=1, chat_id=1, message_id=1, text="hi", update_id=1
    )

    result = await stale.forward(partition, "1-1", message)

    assert isinstance(result, Lost)
    assert await redis.xlen(keys.WORKER_COMMANDS) == 0
    assert await redis.xlen(keys.po_input(USER)) == 0
    assert await redis.exists(keys.session(USER)) == 0
