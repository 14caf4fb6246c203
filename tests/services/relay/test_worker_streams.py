"""``PO_CONTRACT=worker-streams``: the relay speaks the deployed worker wrapper.

Real relays in the test's loop, real Redis, and the fake worker-manager
speaking the wrapper's streams and shapes (``services.fakes.workers.wire``).
Order across relays and ``kill -9`` in this profile: ``test_scale.py``.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import redis.asyncio as aioredis

from services.fakes.telegram import FakeTelegram
from services.fakes.workers import FakeWorkerManager, Profile, WrapperOutput
from shared import keys
from shared.texts import RU
from tests.services.relay.conftest import (
    RunningRelay,
    StartRelay,
    answered,
    chat_of,
    entries,
    wait_until,
    write_message,
)

USER = 21
CHAT = chat_of(USER)


@pytest.fixture
def po_contract() -> Profile:
    return "worker-streams"


async def reading_lifecycle(relay: RunningRelay) -> RunningRelay:
    """Returned once the relay reads ``worker:lifecycle`` (events after this reach it)."""
    await wait_until(lambda: relay.relay.lifecycle.position is not None)
    return relay


async def test_a_first_message_reaches_the_wrappers_input_stream_as_content_with_the_seed_fields(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    await start_relay()

    entry_id = await write_message(redis, USER, "hello")
    await fake_telegram.wait_for_messages(CHAT, 1, timeout=10)

    [(_id, fields)] = await entries(redis, "worker:po-21:input")
    assert list(fields) == [b"data"]
    data = msgspec.json.decode(fields[b"data"])
    assert set(data) == {"content", "request_id", "user_id", "telegram_id", "chat_id", "timestamp"}
    assert (data["content"], data["request_id"], data["user_id"]) == ("hello", entry_id, USER)
    assert (data["telegram_id"], data["chat_id"]) == (CHAT, CHAT)
    assert data["timestamp"].endswith("Z")
    assert await redis.exists(keys.po_input(USER), keys.po_output(USER)) == 0
    assert [c.config.name for c in fake_workers.commands] == ["po-21"]
    assert not fake_workers.rejected
    assert fake_telegram.chat(CHAT).texts == ["echo: hello"]


@pytest.mark.parametrize(
    ("shape", "shown"),
    [
        ("content", "echo: hi"),
        ("structured", "echo: hi"),
        ("structured_bare", RU.po_result_generic),
        ("raw_json", "echo: hi"),
        ("raw_text", "echo: hi"),
    ],
)
async def test_each_output_shape_of_the_wrapper_reaches_the_user_as_text_never_as_json(
    shape: WrapperOutput,
    shown: str,
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_workers.script(USER, wrapper_output=shape)
    await start_relay()

    await answered(fake_telegram, redis, USER, "hi")
    await answered(fake_telegram, redis, USER, "hi")

    [output, *_] = await entries(redis, "worker:po-21:output")
    assert "is_final" not in msgspec.json.decode(output[1][b"data"])  # never streamed
    texts = fake_telegram.chat(CHAT).texts
    assert texts == [shown, shown]
    assert not any("{" in text or '"type"' in text for text in texts)


async def test_a_failed_lifecycle_event_tells_the_user_once_across_two_relays(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_workers.script(USER, wrapper_output="failed")
    relays = [await reading_lifecycle(await start_relay(name)) for name in ("relay-a", "relay-b")]
    partition = keys.partition_of(USER)
    await wait_until(lambda: any(r.relay.owns(partition) for r in relays))
    # Entries the relays cannot read, and other events, are skipped.
    await redis.xadd(keys.WORKER_LIFECYCLE, {"data": b"not json"})
    await redis.xadd(keys.WORKER_LIFECYCLE, {"other": b"x"})
    await redis.xadd(keys.WORKER_LIFECYCLE, {"data": b'{"worker_id": "po-21", "event": "stopped"}'})

    await write_message(redis, USER, "do it")
    await fake_telegram.wait_for_messages(CHAT, 1, timeout=10)
    assert fake_workers.lifecycle == [("po-21", "started"), ("po-21", "failed")]

    # The PO works again: the next message is answered, and nothing came in between.
    fake_workers.script(USER, wrapper_output="content")
    await answered(fake_telegram, redis, USER, "again")
    assert fake_telegram.chat(CHAT).texts == [RU.po_failed, "echo: again"]
    # The wrapper's own failed output entry was handled without a word.
    outputs = await entries(redis, "worker:po-21:output")
    failed: Any = msgspec.json.decode(outputs[0][1][b"data"])
    assert failed == {"status": "failed", "error": "container exited with code 1"}


async def test_a_failed_event_of_a_user_with_no_known_chat_is_skipped_and_reading_goes_on(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    relay = await reading_lifecycle(await start_relay())
    await wait_until(lambda: relay.relay.owns(keys.partition_of(99)))
    await redis.xadd(keys.WORKER_LIFECYCLE, {"data": b'{"worker_id": "po-99", "event": "failed"}'})

    await answered(fake_telegram, redis, USER, "hi")

    assert fake_telegram.chat(CHAT).texts == ["echo: hi"]
    assert fake_telegram.chat(chat_of(99)).texts == []


async def test_a_lifecycle_event_that_breaks_its_handling_is_skipped_and_the_relay_serves_on(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    relay = await reading_lifecycle(await start_relay())
    await wait_until(lambda: relay.relay.owns(keys.partition_of(37)))
    await redis.set(keys.user_chat(37), "not a chat id")
    await redis.xadd(keys.WORKER_LIFECYCLE, {"data": b'{"worker_id": "po-37", "event": "failed"}'})

    await answered(fake_telegram, redis, USER, "hi")

    assert fake_telegram.chat(CHAT).texts == ["echo: hi"]
    assert not relay.task.done()
