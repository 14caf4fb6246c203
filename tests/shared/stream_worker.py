"""A ``StreamConsumer`` in a process of its own, for tests that kill or signal it.

    python -m tests.shared.stream_worker REDIS_URL STREAM GROUP CONSUMER
        [--handler-seconds S] [--claim-idle-ms N]

The handler leaves its traces in Redis, where the test reads them: it pushes
the entry id onto ``started_key(stream)`` when it begins and, after
``--handler-seconds``, counts a completion in ``completions_key(stream)`` and
pushes the id onto ``completed_key(stream)`` (both in one transaction).
Exits 0 after a clean stop (SIGTERM or SIGINT).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import msgspec
import redis.asyncio as aioredis

from shared import log
from shared.stopping import install_stop_signals
from shared.streams import StreamConsumer, entry_decoder


class Job(msgspec.Struct):
    n: int


def started_key(stream: str) -> str:
    return f"{stream}:started"


def completed_key(stream: str) -> str:
    return f"{stream}:completed"


def completions_key(stream: str) -> str:
    return f"{stream}:completions"


async def _main(args: argparse.Namespace) -> int:
    client = aioredis.Redis.from_url(args.redis_url)
    stream: str = args.stream

    async def handle(entry_id: str, _job: Job) -> None:
        await client.rpush(started_key(stream), entry_id)
        await asyncio.sleep(args.handler_seconds)
        async with client.pipeline(transaction=True) as pipe:
            pipe.hincrby(completions_key(stream), entry_id, 1)
            pipe.rpush(completed_key(stream), entry_id)
            await pipe.execute()

    stop = asyncio.Event()
    install_stop_signals(stop)
    consumer = StreamConsumer(
        client,
        stream=stream,
        group=args.group,
        consumer=args.consumer,
        decode=entry_decoder(Job),
        handler=handle,
        block_ms=500,
        claim_idle_ms=args.claim_idle_ms,
        max_backoff_ms=200,
    )
    try:
        await consumer.run(stop)
    finally:
        await client.aclose()
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="stream_worker")
    parser.add_argument("redis_url")
    parser.add_argument("stream")
    parser.add_argument("group")
    parser.add_argument("consumer")
    parser.add_argument("--handler-seconds", type=float, default=0.0)
    parser.add_argument("--claim-idle-ms", type=int, default=60_000)
    args = parser.parse_args(argv)
    log.configure("stream-worker", fmt="console")
    return asyncio.run(_main(args))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
