"""The fake PO in ``worker-streams``: the deployed wrapper's streams, fields and shapes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
import pytest
import redis.asyncio as aioredis

from services.fakes.workers import MISSING_PROMPT, FakeWorkerManager, WrapperOutput
from shared import keys
from tests.fakes.workers import USER, entries, running, send_command

INPUT = "worker:po-7:input"
OUTPUT = "worker:po-7:output"


@pytest.fixture
async def wrapper(redis_url: str) -> AsyncIterator[FakeWorkerManager]:
    async with FakeWorkerManager(redis_url, profile="worker-streams") as wm:
        yield wm


async def write_task(redis: aioredis.Redis, task: dict[str, object]) -> None:
    await redis.xadd(INPUT, {"data": msgspec.json.encode(task)})


async def decoded(redis: aioredis.Redis, stream: str) -> list[dict[str, object]]:
    return [msgspec.json.decode(fields[b"data"]) for fields in await entries(redis, stream)]


async def test_the_wrapper_answers_content_and_says_started_then_completed(
    wrapper: FakeWorkerManager, redis: aioredis.Redis
) -> None:
    await send_command(redis)
    await wrapper.wait_for(lambda: running(wrapper))

    await write_task(redis, {"content": "hi", "request_id": "r1", "user_id": USER})
    await wrapper.wait_for(lambda: ("po-7", "completed") in wrapper.lifecycle)

    assert await decoded(redis, OUTPUT) == [{"content": "echo: hi", "status": "success"}]
    events = await decoded(redis, keys.WORKER_LIFECYCLE)
    assert [(e["worker_id"], e["event"]) for e in events] == [
        ("po-7", "started"),
        ("po-7", "completed"),
    ]
    assert set(events[0]) == {"worker_id", "event", "timestamp", "result", "error", "exit_code"}
    assert await redis.exists(keys.po_output(USER)) == 0


async def test_the_wrapper_takes_prompt_when_content_is_missing_and_rejects_neither(
    wrapper: FakeWorkerManager, redis: aioredis.Redis
) -> None:
    await send_command(redis)
    await wrapper.wait_for(lambda: running(wrapper))

    await write_task(redis, {"text": "seed field only", "request_id": "r0"})
    await write_task(redis, {"prompt": "from prompt"})
    await wrapper.wait_for(lambda: len(wrapper.outputs) == 1)

    assert [(r.stream, r.reason) for r in wrapper.rejected] == [(INPUT, MISSING_PROMPT)]
    assert await decoded(redis, OUTPUT) == [{"content": "echo: from prompt", "status": "success"}]


@pytest.mark.parametrize(
    ("shape", "keys_written"),
    [
        ("structured", {"summary", "status", "files_changed"}),
        ("structured_bare", {"status", "files_changed", "commit_sha"}),
        ("raw_json", {"raw_output", "status"}),
        ("raw_text", {"raw_output", "status"}),
        ("failed", {"status", "error"}),
    ],
)
async def test_the_wrapper_answers_in_the_shape_it_is_scripted_with(
    shape: WrapperOutput,
    keys_written: set[str],
    wrapper: FakeWorkerManager,
    redis: aioredis.Redis,
) -> None:
    wrapper.script(USER, wrapper_output=shape)
    await send_command(redis)
    await wrapper.wait_for(lambda: running(wrapper))

    await wrapper.send(USER, "hi")
    await wrapper.wait_for(lambda: len(wrapper.lifecycle) == 2)

    (written,) = await decoded(redis, OUTPUT)
    assert set(written) == keys_written
    last = "failed" if shape == "failed" else "completed"
    assert wrapper.lifecycle == [("po-7", "started"), ("po-7", last)]
