"""The fake PO workers: each RUNNING worker answers its user's input, in order."""

from __future__ import annotations

import itertools

import pytest
import redis.asyncio as aioredis

from services.fakes.workers import FakeWorkerManager
from shared import keys
from shared.schemas import POWorkerOutput, decode_entry
from tests.fakes.workers import USER, entries, outputs, running, send_command, send_input


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


async def test_input_written_before_the_worker_exists_is_answered_once_it_runs(
    fake_workers: FakeWorkerManager, redis: aioredis.Redis
) -> None:
    first = await send_input(redis, "one")
    second = await send_input(redis, "two")
    await send_command(redis)

    await fake_workers.wait_for(lambda: len(fake_workers.outputs) == 2)

    assert [o.request_id for o in fake_workers.outputs] == [first.request_id, second.request_id]


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
