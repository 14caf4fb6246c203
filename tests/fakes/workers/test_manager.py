"""The fake worker-manager stops fast, and its helpers write what the bot would."""

from __future__ import annotations

import time

import redis.asyncio as aioredis

from services.fakes.workers import FakeWorkerManager
from tests.fakes.workers import USER, running


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
