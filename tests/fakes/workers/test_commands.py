"""The fake worker-manager's consumer of worker:commands, and the starts it runs."""

from __future__ import annotations

import time

import msgspec
import redis.asyncio as aioredis

from services.fakes.redis_server import RedisServer
from services.fakes.workers import FakeWorkerManager
from shared import keys
from shared.schemas import WorkerResponse, decode_entry
from tests.fakes.workers import USER, entries, running, send_command


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
