"""worker:status written and read in both of its forms."""

from __future__ import annotations

import redis.asyncio as aioredis

from services.fakes.workers import FakeWorkerManager
from tests.fakes.workers import USER, running, send_command, send_input


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
