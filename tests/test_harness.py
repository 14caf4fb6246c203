"""The harness itself: the Redis fixture gives each test a real, empty database."""

from __future__ import annotations

import redis.asyncio as aioredis


async def test_each_test_starts_with_an_empty_real_redis(redis: aioredis.Redis) -> None:
    assert await redis.dbsize() == 0
    await redis.xadd("probe", {"data": b"{}"})
    assert await redis.xlen("probe") == 1


async def test_the_next_test_does_not_see_the_previous_ones_keys(redis: aioredis.Redis) -> None:
    assert await redis.exists("probe") == 0
