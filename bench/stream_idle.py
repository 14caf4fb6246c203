"""What an idle stream consumer costs: CPU seconds and Redis commands per second of idling.

    .venv/bin/python -m bench.stream_idle [--seconds 10] [--block-ms 2000]

Starts its own ``redis-server``, runs one ``StreamConsumer`` on an empty
stream (the notifier's settings: ``claim_idle_ms`` 30 s) until it sits in
its blocking read, then measures, over ``--seconds``, the process's CPU time
(``time.process_time``), the Redis commands it made (``INFO
commandstats``) and its loop's turns. The same window is measured first
with no consumer, the event loop's own floor. ``tests/shared/test_streams.py``
checks the command count and the turns; the CPU figure lives here because
a test cannot time a shared machine reliably.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

import msgspec
import redis.asyncio as aioredis

from bench import machine
from services.fakes.redis_server import RedisServer
from shared import log
from shared.streams import StreamConsumer

STREAM = "bench:idle"


class Report(msgspec.Struct, frozen=True):
    seconds: float
    block_ms: int
    floor_cpu_s: float
    """CPU time of the same window with no consumer running."""
    consumer_cpu_s: float
    cpu_per_idle_s: float
    """(consumer - floor) / seconds: the consumer's share of one core."""
    commands: dict[str, int]
    turns: int


async def _commands(redis: aioredis.Redis) -> dict[str, int]:
    stats: dict[str, dict[str, Any]] = await redis.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(row["calls"]) for name, row in stats.items()}


async def _cpu_over(seconds: float) -> float:
    start = time.process_time()
    await asyncio.sleep(seconds)
    return time.process_time() - start


async def _ignore(entry_id: str, fields: dict[bytes, bytes]) -> None:
    return None


async def measure(url: str, seconds: float, block_ms: int) -> Report:
    redis = aioredis.Redis.from_url(url)
    turns = 0

    def turned() -> None:
        nonlocal turns
        turns += 1

    consumer = StreamConsumer(
        redis,
        stream=STREAM,
        group="bench",
        consumer="c1",
        decode=lambda fields: fields,
        handler=_ignore,
        block_ms=block_ms,
        claim_idle_ms=30_000,
        on_turn=turned,
    )
    stop = asyncio.Event()
    try:
        floor = await _cpu_over(seconds)
        task = asyncio.create_task(consumer.run(stop))
        # Its first blocking read starts the window: the start-up claim scan is behind it.
        while not any(c.get("cmd") == "xreadgroup" for c in await redis.client_list()):  # noqa: ASYNC110 - only Redis knows
            await asyncio.sleep(0.01)
        before, turns_before = await _commands(redis), turns
        cpu = await _cpu_over(seconds)
        after = await _commands(redis)
        stop.set()
        await task
    finally:
        await redis.aclose()
    made = {name: n - before.get(name, 0) for name, n in after.items()}
    return Report(
        seconds=seconds,
        block_ms=block_ms,
        floor_cpu_s=round(floor, 4),
        consumer_cpu_s=round(cpu, 4),
        cpu_per_idle_s=round(max(cpu - floor, 0.0) / seconds, 5),
        commands={name: n for name, n in made.items() if n and name != "info"},
        turns=turns - turns_before,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.stream_idle", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--block-ms", type=int, default=2_000)
    args = parser.parse_args(argv)
    log.configure("bench", level="WARNING", fmt="json")
    with RedisServer() as server:
        report = asyncio.run(measure(server.url, args.seconds, args.block_ms))
        described = machine.describe(server.url)
    print(msgspec.json.format(msgspec.json.encode(report)).decode())
    print(
        f"idle {report.seconds:.0f} s: {report.consumer_cpu_s * 1000:.1f} ms of CPU "
        f"({report.floor_cpu_s * 1000:.1f} ms with no consumer), "
        f"{report.commands} in Redis, {report.turns} loop turns"
    )
    print(described)
    return 0


if __name__ == "__main__":
    sys.exit(main())
