"""The Redis clients every process builds, against a real Redis."""

from __future__ import annotations

import asyncio

from shared import connections
from shared.connections import redis_client
from shared.settings import BaseSettings, load


async def test_a_burst_of_commands_past_the_pool_size_waits_for_a_connection(
    redis_url: str,
) -> None:
    settings = load(BaseSettings, {"REDIS_URL": redis_url, "TELEGRAM_BOT_TOKEN": "1:test"})
    client = redis_client(settings)
    burst = connections.POOL_SIZE + 20
    try:
        # Each BLPOP holds its connection for 0.2 s, so the burst needs more connections
        # than the pool has at once: the extra commands must wait, not fail.
        results = await asyncio.gather(
            *(client.blpop([f"test:connections:empty:{n}"], timeout=0.2) for n in range(burst)),
            return_exceptions=True,
        )
    finally:
        await client.aclose()
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert results == [None] * burst
