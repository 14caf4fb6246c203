"""Wake-up benchmark: idle users' PO messages reach the chat; what it costs at idle.

    .venv/bin/python -m bench.wakeup [--idle-users 10000] [--idle-seconds 60]
                                     [--messages 200] [--rate 4]

Starts its own ``redis-server``, the fake Telegram (a process of its own,
flood limits lifted) and, in this process, the fake API knowing every user.
``--idle-users`` users are set up as a prune leaves them a day after their
last message: a reply cursor on their output stream's last entry, their chat
in ``bot:chats:{p}``, no session, not in ``bot:active:{p}``. One real
``telegram-bot relay`` process (seed profile, ``IDLE_SWEEP_S`` at its
default) owns all 16 partitions. Then:

* idle: once it holds every partition and the start sweeps are done, its
  CPU (``/proc/<pid>/stat``) over ``--idle-seconds`` and its RSS;
* sweep: the relay's own ``sweep.lua`` over every partition, run from here
  as the relay runs it (one call per ``SCAN_COUNT`` users): wall time, calls, and
  Redis' own time for them (``INFO commandstats``);
* wake-up latency: ``--messages`` PO entries written to random idle users'
  output streams, ``--rate`` per second, each timed from just before its
  ``XADD`` to the fake Telegram receiving the ``sendMessage``.

Prints a Markdown summary; exit status 1 if a goal is missed (p99 at most
2 s, idle CPU at most 2 % of a core, RSS at most 100 MB).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
import redis.asyncio as aioredis

from bench import machine
from bench.processes import ChildProcess, FakeTelegramProcess, start_relay, wait_for_leases
from bench.report import percentile
from bench.timeline import Timeline
from services.fakes.api import FakeApi
from services.fakes.redis_server import RedisServer
from services.fakes.telegram import DEFAULT_TOKEN
from services.relay import keyspace
from services.relay.contracts import SEED
from services.relay.wakeups import SCAN_COUNT
from shared import keys
from shared.schemas import DATA_FIELD
from shared.scripts import register

CHAT_BASE = 700_000_000
GOAL_P99_MS = 2000.0
GOAL_CPU = 0.02
GOAL_RSS_MB = 100.0


def chat_of(user_id: int) -> int:
    return CHAT_BASE + user_id


def output(user_id: int, text: str) -> dict[str, bytes]:
    entry = {"request_id": text, "user_id": user_id, "text": text, "is_final": True}
    return {DATA_FIELD: msgspec.json.encode(entry)}


async def make_idle(redis: aioredis.Redis, users: list[int]) -> None:
    """Users a prune forgot: every output entry handled, chat kept, no session."""
    for start in range(0, len(users), 2000):
        chunk = users[start : start + 2000]
        async with redis.pipeline(transaction=False) as pipe:
            for user in chunk:
                pipe.xadd(SEED.output_stream(user), output(user, "old"))  # type: ignore[arg-type]
            ids = await pipe.execute()
        async with redis.pipeline(transaction=False) as pipe:
            for user, entry_id in zip(chunk, ids, strict=True):
                partition = keys.partition_of(user)
                pipe.hset(keyspace.reply_cursor(partition), str(user), entry_id)
                pipe.hset(keyspace.chats(partition), str(user), str(chat_of(user)))
            await pipe.execute()


async def sweep_cost(redis: aioredis.Redis) -> dict[str, float]:
    """The relay's sweep over every partition, as it runs it: wall ms, calls, Redis µs."""
    script = register(redis, str(Path(keyspace.__file__)), "sweep.lua")
    prefix, _, suffix = SEED.output_pattern.partition("*")
    await redis.config_resetstat()
    calls, found = 0, 0
    began = time.perf_counter()
    for partition in range(keys.PARTITIONS):
        position = "0"
        while True:
            reply: Any = await script(
                keys=[keyspace.reply_cursor(partition), keyspace.active(partition)],
                args=[position, SCAN_COUNT, prefix, suffix],
            )
            calls += 1
            found += len(reply) - 1
            position = reply[0].decode()
            if position == "0":
                break
    wall_ms = (time.perf_counter() - began) * 1000
    stats: Any = await redis.info("commandstats")
    redis_us = sum(
        float(value["usec"]) for name, value in stats.items() if name.startswith("cmdstat_evalsha")
    )
    return {"wall_ms": wall_ms, "calls": calls, "redis_ms": redis_us / 1000, "found": found}


async def latencies(
    redis: aioredis.Redis, fake: FakeTelegramProcess, users: list[int], messages: int, rate: float
) -> list[float]:
    timeline = Timeline()
    chosen = random.Random(14).sample(users, messages)
    texts = []
    for n, user in enumerate(chosen):
        text = f"wake-{n}"
        texts.append(text)
        timeline.written[text] = time.monotonic()
        await redis.xadd(SEED.output_stream(user), output(user, text))  # type: ignore[arg-type]
        await fake.collect(timeline)
        await asyncio.sleep(1 / rate)
    await fake.wait_received(timeline, texts, timeout=60)
    return sorted((timeline.received[t] - timeline.written[t]) * 1000 for t in texts)


async def wait_swept(relay: ChildProcess, timeout: float = 120) -> None:
    """Until the relay logged its sweep of all 16 partitions at start."""
    async with asyncio.timeout(timeout):
        log = relay.log.read_text(errors="replace")
        while log.count('"wakeups_partition_swept"') < keys.PARTITIONS:
            await asyncio.sleep(0.2)
            log = relay.log.read_text(errors="replace")


async def run(args: argparse.Namespace) -> int:
    fake = FakeTelegramProcess()
    users = list(range(1, args.idle_users + 1))
    with RedisServer() as server, tempfile.TemporaryDirectory(prefix="bench-wakeup-") as tmp:
        await fake.start()
        redis = aioredis.Redis.from_url(server.url)
        api = FakeApi()
        for user in users:
            api.add_user(chat_of(user), user_id=user)
        relay: ChildProcess | None = None
        try:
            await api.start()
            await make_idle(redis, users)
            env = {
                "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN,
                "TELEGRAM_API_URL": fake.url,
                "API_URL": api.url,
                "REDIS_URL": server.url,
                "LOG_FORMAT": "json",
                "LOG_LEVEL": "INFO",
                "TELEGRAM_RATE_GLOBAL_PER_S": "100000",
                "TELEGRAM_RATE_CHAT_PER_S": "1000",
            }
            relay = start_relay(env, "bench-relay-wakeup", Path(tmp))
            await wait_for_leases(redis, 1)
            await wait_swept(relay)
            await asyncio.sleep(5)  # let start-up work finish before measuring
            cpu_before, began = relay.cpu_seconds(), time.monotonic()
            await asyncio.sleep(args.idle_seconds)
            cpu = (relay.cpu_seconds() - cpu_before) / (time.monotonic() - began)
            rss = relay.rss_mb()
            sweep = await sweep_cost(redis)
            waits = await latencies(redis, fake, users, args.messages, args.rate)
            rss_after = relay.rss_mb()
            calibration = machine.describe(server.url)
        finally:
            if relay is not None:
                relay.stop()
            await redis.aclose()
            await api.stop()
            await fake.stop()
    print(f"## Wake-up of idle users ({args.idle_users} idle users, one relay)\n")
    print("| measure | value | goal |\n| --- | --- | --- |")
    print(f"| idle CPU over {args.idle_seconds:.0f} s | {cpu * 100:.2f} % of a core | ≤ 2 % |")
    print(f"| RSS idle / after the wake-ups | {rss:.0f} MB / {rss_after:.0f} MB | ≤ 100 MB |")
    print(
        f"| one sweep of {args.idle_users} users | {sweep['wall_ms']:.0f} ms wall, "
        f"{sweep['calls']:.0f} script calls, {sweep['redis_ms']:.0f} ms of Redis time | |"
    )
    print(
        f"| wake-up latency, {args.messages} messages at {args.rate:g}/s | "
        f"p50 {percentile(waits, 50):.0f} ms, p99 {percentile(waits, 99):.0f} ms, "
        f"max {waits[-1]:.0f} ms | p99 ≤ 2000 ms |"
    )
    print(f"\nload average before: {args.load}; {calibration}")
    met = percentile(waits, 99) <= GOAL_P99_MS and cpu <= GOAL_CPU and rss <= GOAL_RSS_MB
    return 0 if met else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--idle-users", type=int, default=10_000)
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--rate", type=float, default=4.0)
    args = parser.parse_args()
    args.load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
