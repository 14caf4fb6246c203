"""The fake worker-manager and its PO workers, against a real Redis."""

from __future__ import annotations

import itertools
import time
from typing import Any

import msgspec
import pytest
import redis.asyncio as aioredis

from services.fakes.redis_server import RedisServer
from services.fakes.workers import FakeWorkerManager
from shared import keys
from shared.schemas import (
    CreateWorkerCommand,
    POWorkerInput,
    POWorkerOutput,
    WorkerConfig,
    WorkerResponse,
    decode_entry,
    encode_entry,
    new_id,
)

USER = 7


def create_command(user_id: int = USER) -> CreateWorkerCommand:
    return CreateWorkerCommand(
        config=WorkerConfig(name=keys.po_worker_id(user_id), env_vars={"USER_ID": str(user_id)}),
        context={"role": "product_owner", "user_telegram_id": "100"},
    )


async def send_command(redis: aioredis.Redis, user_id: int = USER) -> CreateWorkerCommand:
    command = create_command(user_id)
    await redis.xadd(keys.WORKER_COMMANDS, encode_entry(command))  # type: ignore[arg-type]
    return command


async def send_input(redis: aioredis.Redis, text: str, user_id: int = USER) -> POWorkerInput:
    message = POWorkerInput(
        request_id=new_id(), user_id=user_id, telegram_id=100, chat_id=100, text=text
    )
    await redis.xadd(keys.po_input(user_id), encode_entry(message))  # type: ignore[arg-type]
    return message


async def entries(redis: aioredis.Redis, stream: str) -> list[dict[bytes, bytes]]:
    """The fields of every entry on ``stream``."""
    raw: Any = await redis.xrange(stream)  # the declared type is a union over protocols
    return [fields for _id, fields in raw]


async def outputs(redis: aioredis.Redis, user_id: int = USER) -> list[dict[str, Any]]:
    """The raw JSON objects on the user's output stream."""
    return [msgspec.json.decode(f[b"data"]) for f in await entries(redis, keys.po_output(user_id))]


def running(wm: FakeWorkerManager, user_id: int = USER) -> bool:
    return (keys.po_worker_id(user_id), "RUNNING") in wm.status_log


async def test_a_create_command_makes_the_worker_starting_then_running_with_a_response(
    fake_workers: FakeWorkerManager, redis: aioredis.Redis
) -> None:
    command = await send_command(redis)

    await fake_workers.wait_for(lambda: len(fake_workers.responses) == 1)

    assert fake_workers.commands == [command]
    assert fake_workers.status_log == [("po-7", "STARTING"), ("po-7", "RUNNING")]
    assert await redis.hget("worker:status:po-7", "status") == b"RUNNING"
    (fields,) = await entries(redis, keys.WORKER_RESPONSES_PO)
    assert decode_entry(fields, WorkerResponse) == WorkerResponse(
        request_id=command.request_id, success=True, worker_id="po-7", error=None
    )
    pending = await redis.xpending(keys.WORKER_COMMANDS, "worker-manager")
    assert pending["pending"] == 0


async def test_a_po_echoes_an_input_under_the_same_request_id(
    fake_workers: FakeWorkerManager, redis: aioredis.Redis
) -> None:
    await send_command(redis)
    await fake_workers.wait_for(lambda: running(fake_workers))

    message = await send_input(redis, "hello")
    await fake_workers.wait_for(lambda: len(fake_workers.outputs) == 1)

    (fields,) = await entries(redis, keys.po_output(USER))
    reply = decode_entry(fields, POWorkerOutput)
    assert (reply.request_id, reply.user_id, reply.text, reply.is_final) == (
        message.request_id,
        USER,
        "echo: hello",
        True,
    )
    assert reply.timestamp


async def test_a_chunked_reply_is_growing_snapshots_then_exactly_one_final(
    fake_workers: FakeWorkerManager, redis: aioredis.Redis
) -> None:
    fake_workers.default_script.chunks = 3
    await send_command(redis)
    await fake_workers.wait_for(lambda: running(fake_workers))

    message = await send_input(redis, "a longer message to split")
    await fake_workers.wait_for(lambda: any(o.is_final for o in fake_workers.outputs))

    written = await outputs(redis)
    texts = [o["text"] for o in written]
    assert [o["is_final"] for o in written] == [False, False, True]
    assert {o["request_id"] for o in written} == {message.request_id}
    assert texts[-1] == "echo: a longer message to split"
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(texts))
    assert len(set(texts)) == 3


async def test_the_reply_function_is_configurable(
    fake_workers: FakeWorkerManager, redis: aioredis.Redis
) -> None:
    fake_workers.default_script.reply = lambda message: message.text.upper()
    await send_command(redis)
    await fake_workers.wait_for(lambda: running(fake_workers))

    await send_input(redis, "shout")
    await fake_workers.wait_for(lambda: len(fake_workers.outputs) == 1)

    assert (await outputs(redis))[0]["text"] == "SHOUT"


@pytest.mark.parametrize("field", ["content", "response", "result"])
async def test_the_reply_can_come_under_another_key_like_deployed_wrappers_write_it(
    fake_workers: FakeWorkerManager, redis: aioredis.Redis, field: str
) -> None:
    fake_workers.script(USER, text_field=field)
    await send_command(redis)
    await fake_workers.wait_for(lambda: running(fake_workers))

    await send_input(redis, "hi")
    await fake_workers.wait_for(lambda: len(fake_workers.outputs) == 1)

    (written,) = await outputs(redis)
    assert "text" not in written
    assert written[field] == "echo: hi"
    (fields,) = await entries(redis, keys.po_output(USER))
    assert decode_entry(fields, POWorkerOutput).reply_text == "echo: hi"


async def test_a_worker_scripted_to_fail_ends_failed_with_an_error_response(
    fake_workers: FakeWorkerManager, redis: aioredis.Redis
) -> None:
    fake_workers.script(USER, outcome="FAILED", error="no capacity")
    command = await send_command(redis)

    await fake_workers.wait_for(lambda: len(fake_workers.responses) == 1)

    assert await redis.hget("worker:status:po-7", "status") == b"FAILED"
    assert fake_workers.responses == [
        WorkerResponse(
            request_id=command.request_id, success=False, worker_id="po-7", error="no capacity"
        )
    ]


async def test_a_worker_that_stays_starting_does_not_answer_until_it_runs(
    redis_url: str, redis: aioredis.Redis
) -> None:
    async with FakeWorkerManager(redis_url, block_ms=50) as wm:
        wm.script(USER, outcome="STARTING")
        await send_command(redis)
        await wm.wait_for(lambda: ("po-7", "STARTING") in wm.status_log)
        message = await send_input(redis, "early")

        rounds = wm.read_calls
        await wm.wait_for(lambda: wm.read_calls >= rounds + 3)  # the reader had its chances

        assert await redis.hget("worker:status:po-7", "status") == b"STARTING"
        assert wm.outputs == []
        assert wm.responses == []

        await wm.set_status(USER, "RUNNING")
        await wm.wait_for(lambda: len(wm.outputs) == 1)
        assert wm.outputs[0].request_id == message.request_id


async def test_a_start_can_take_a_scripted_delay(
    fake_workers: FakeWorkerManager, redis: aioredis.Redis
) -> None:
    fake_workers.script(USER, start_delay=0.3)
    started = time.monotonic()
    await send_command(redis)
    await fake_workers.wait_for(lambda: ("po-7", "STARTING") in fake_workers.status_log)

    assert await redis.hget("worker:status:po-7", "status") == b"STARTING"
    await fake_workers.wait_for(lambda: running(fake_workers))
    assert time.monotonic() - started >= 0.29  # asyncio may wake a hair early


async def test_the_status_can_be_written_as_a_plain_string(
    fake_workers: FakeWorkerManager, redis: aioredis.Redis
) -> None:
    fake_workers.script(USER, plain_string_status=True)
    await send_command(redis)
    await fake_workers.wait_for(lambda: running(fake_workers))

    assert await redis.get("worker:status:po-7") == b"RUNNING"
    assert await fake_workers.status(USER) == "RUNNING"
    await send_input(redis, "still answered")
    await fake_workers.wait_for(lambda: len(fake_workers.outputs) == 1)


async def test_input_written_before_the_worker_exists_is_answered_once_it_runs(
    fake_workers: FakeWorkerManager, redis: aioredis.Redis
) -> None:
    first = await send_input(redis, "one")
    second = await send_input(redis, "two")
    await send_command(redis)

    await fake_workers.wait_for(lambda: len(fake_workers.outputs) == 2)

    assert [o.request_id for o in fake_workers.outputs] == [first.request_id, second.request_id]


async def test_malformed_commands_are_rejected_and_the_next_one_is_served(
    fake_workers: FakeWorkerManager, redis: aioredis.Redis
) -> None:
    await redis.xadd(keys.WORKER_COMMANDS, {"data": b"{not json"})
    await redis.xadd(keys.WORKER_COMMANDS, {"other": b"field"})
    await redis.xadd(keys.WORKER_COMMANDS, {"data": b'{"command": "create"}'})
    nameless = msgspec.json.encode({"config": {"name": "mystery"}})
    await redis.xadd(keys.WORKER_COMMANDS, {"data": nameless})
    await send_command(redis)

    await fake_workers.wait_for(lambda: len(fake_workers.responses) == 1)

    assert len(fake_workers.rejected) == 4
    assert len(fake_workers.commands) == 1
    assert (await redis.xpending(keys.WORKER_COMMANDS, "worker-manager"))["pending"] == 0


async def test_a_malformed_input_is_skipped_and_the_next_answered(
    fake_workers: FakeWorkerManager, redis: aioredis.Redis
) -> None:
    await send_command(redis)
    await fake_workers.wait_for(lambda: running(fake_workers))

    await redis.xadd(keys.po_input(USER), {"data": b'{"text": "no ids"}'})
    message = await send_input(redis, "fine")
    await fake_workers.wait_for(lambda: len(fake_workers.outputs) == 1)

    assert fake_workers.outputs[0].request_id == message.request_id
    assert [r.stream for r in fake_workers.rejected] == [keys.po_input(USER)]


async def test_many_users_are_served_by_one_blocking_read(
    fake_workers: FakeWorkerManager, redis: aioredis.Redis
) -> None:
    users = range(100, 120)
    for user_id in users:
        await send_command(redis, user_id)
    await fake_workers.wait_for(lambda: all(running(fake_workers, u) for u in users))

    for user_id in users:
        await send_input(redis, f"hi from {user_id}", user_id)
    await fake_workers.wait_for(lambda: len(fake_workers.outputs) == len(users))

    assert fake_workers.max_streams_per_read == len(users)
    for user_id in users:
        assert (await outputs(redis, user_id))[0]["text"] == f"echo: hi from {user_id}"


async def test_a_stopped_worker_stops_answering_and_the_next_worker_answers(
    redis_url: str, redis: aioredis.Redis
) -> None:
    async with FakeWorkerManager(redis_url, block_ms=50) as wm:
        await send_command(redis)
        await wm.wait_for(lambda: running(wm))
        await redis.hset("worker:status:po-7", "status", "STOPPED")  # as a test, straight in Redis

        message = await send_input(redis, "anyone there?")
        rounds = wm.read_calls
        await wm.wait_for(lambda: wm.read_calls >= rounds + 3)
        assert wm.outputs == []

        await send_command(redis)  # the bot spawns a new one
        await wm.wait_for(lambda: len(wm.outputs) == 1)
        assert wm.outputs[0].request_id == message.request_id


async def test_a_start_interrupted_by_a_redis_outage_still_ends_running() -> None:
    # Its own server: the test kills it.
    with RedisServer() as server:
        async with FakeWorkerManager(server.url) as wm:
            wm.default_script.start_delay = 1.0  # time to kill Redis before the RUNNING write
            await wm.create(USER)
            await wm.wait_for(lambda: (keys.po_worker_id(USER), "STARTING") in wm.status_log)

            server.kill()  # the RUNNING write, due in 1 s, finds Redis away
            await wm.wait_for(lambda: wm.start_write_failures > 0, within=30)
            server.start()

            await wm.wait_for(lambda: len(wm.responses) == 1, within=30)
            assert running(wm)
        # A fresh client: the fake's pool may still hold connections to the killed server.
        redis = aioredis.Redis.from_url(server.url)
        assert await redis.hget(keys.worker_status("po-7"), "status") == b"RUNNING"
        await redis.aclose()


async def test_stopping_is_fast_even_while_reads_are_blocked(redis_url: str) -> None:
    wm = FakeWorkerManager(redis_url, block_ms=10_000)
    await wm.start()
    await wm.wait_for(lambda: wm.read_calls >= 1)

    started = time.monotonic()
    await wm.stop()

    assert time.monotonic() - started < 1


async def test_the_helpers_write_what_the_bot_would(
    fake_workers: FakeWorkerManager, redis: aioredis.Redis
) -> None:
    await fake_workers.create(USER, telegram_id=100)
    await fake_workers.wait_for(lambda: running(fake_workers))
    message = await fake_workers.send(USER, "via helper")

    await fake_workers.wait_for(lambda: len(fake_workers.outputs_for(message.request_id)) == 1)
    await fake_workers.set_status(USER, "STOPPED")
    assert await fake_workers.status(USER) == "STOPPED"
