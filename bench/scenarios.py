"""The relay benchmark's runs: latency and throughput under load, and the cost of idle sessions.

Each run starts from an empty Redis with the users' sessions open, starts
the processes it needs (echo PO, relays, and for the whole bot an ingress
with a fake API whitelisting the users), measures, and stops them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import redis.asyncio as aioredis

from bench.load import CHAT_BASE, Counter, Send, burst, open_loop, open_sessions, write
from bench.processes import (
    ChildProcess,
    FakeTelegramProcess,
    start_ingress,
    start_po,
    start_relay,
    wait_for_leases,
)
from bench.report import IdleResult, LoadResult, percentile
from bench.timeline import Timeline
from services.fakes.api import FakeApi


@dataclass
class Rig:
    url: str
    redis: aioredis.Redis
    fake: FakeTelegramProcess
    timeline: Timeline
    env: dict[str, str]
    log_dir: Path
    names: Counter = field(default_factory=Counter)


async def load_scenario(
    rig: Rig,
    relays: int,
    users: int,
    rate: float,
    seconds: float,
    *,
    whole_bot: bool = False,
    profile: str = "seed",
) -> LoadResult:
    """``profile``: the relays' ``PO_CONTRACT``, and the echo PO's wire shape."""
    await rig.redis.flushdb()
    user_ids = list(range(1, users + 1))
    if profile != "po-service":  # one PO service for everyone: no session to open
        await open_sessions(rig.redis, user_ids)
    po = start_po(rig.url, user_ids, profile)
    env = {**rig.env, "PO_CONTRACT": profile}
    processes = [start_relay(env, f"bench-relay-{n}", rig.log_dir) for n in range(relays)]
    api = FakeApi()
    ingress: ChildProcess | None = None
    try:
        if whole_bot:
            await api.start()
            for user in user_ids:
                api.add_user(CHAT_BASE + user, user_id=user)
            ingress = start_ingress({**env, "API_URL": api.url}, rig.log_dir)
            send = _via_telegram(rig)
        else:
            send = _via_stream(rig)
        await wait_for_leases(rig.redis, relays)
        # Warm: every user's first message (the ingress also offers its keyboard then).
        warm = [rig.names.next() for _ in user_ids]
        for user, text in zip(user_ids, warm, strict=True):
            await send(user, text)
        await rig.fake.wait_received(rig.timeline, warm, 60)

        watched = [*processes, *([ingress] if ingress else [])]
        cpu_before = [p.cpu_seconds() for p in watched]
        began, load_before = time.monotonic(), os.getloadavg()[0]
        texts = await open_loop(send, user_ids, rate, seconds, rig.names)
        await rig.fake.wait_received(rig.timeline, texts, 60)
        elapsed, load_after = time.monotonic() - began, os.getloadavg()[0]
        spent = [p.cpu_seconds() - before for p, before in zip(watched, cpu_before, strict=True)]
        cpu = [seconds / elapsed for seconds in spent]
        await rig.timeline.load_po_times(rig.redis)
        added = sorted(rig.timeline.added_ms(text) for text in texts)

        throughput, burst_size = None, 0
        if not whole_bot:
            burst_texts, started = await burst(rig.redis, user_ids, 20, rig.timeline, rig.names)
            await rig.fake.wait_received(rig.timeline, burst_texts, 120)
            last = max(rig.timeline.received[text] for text in burst_texts)
            throughput, burst_size = len(burst_texts) / (last - started), len(burst_texts)
        return LoadResult(
            path="bot" if whole_bot else "relay",
            profile=profile,
            relays=relays,
            users=users,
            rate=rate,
            sent=len(texts),
            p50_ms=percentile(added, 50),
            p99_ms=percentile(added, 99),
            max_ms=added[-1],
            relay_cpu=sum(cpu[:relays]),
            ingress_cpu=cpu[relays] if ingress else None,
            throughput=throughput,
            burst=burst_size,
            rss_mb=processes[0].rss_mb(),
            delivered_rate=_delivered_rate(rig.timeline, texts),
            host_load=(load_before, load_after),
        )
    finally:
        for process in [*processes, *([ingress] if ingress else [])]:
            process.stop()
        if whole_bot:
            await api.stop()
        po.terminate()
        po.wait()


def _delivered_rate(timeline: Timeline, texts: list[str]) -> float:
    last = max(timeline.received[text] for text in texts)
    return len(texts) / (last - timeline.written[texts[0]])


def _via_stream(rig: Rig) -> Send:
    """As the ingress would: the ``IncomingMessage`` added to the partition's stream."""

    async def send(user: int, text: str) -> None:
        await write(rig.redis, user, text, rig.timeline)

    return send


def _via_telegram(rig: Rig) -> Send:
    """As a person would: a message in their chat, which the ingress then polls."""

    async def send(user: int, text: str) -> None:
        rig.timeline.written[text] = time.monotonic()
        await rig.fake.post_message(CHAT_BASE + user, text)

    return send


async def idle_scenario(rig: Rig, sessions: int, idle_seconds: float) -> IdleResult:
    await rig.redis.flushdb()
    user_ids = list(range(1, sessions + 1))
    await open_sessions(rig.redis, user_ids)
    probed = random.Random(7).sample(user_ids, 20)
    po = start_po(rig.url, probed)
    relay = start_relay(rig.env, "bench-relay-idle", rig.log_dir)
    try:
        await wait_for_leases(rig.redis, 1)
        await _wait_loaded(relay, sessions)
        rss_start = relay.rss_mb()
        await asyncio.sleep(5)  # let start-up work finish before measuring
        cpu_before, began = relay.cpu_seconds(), time.monotonic()
        await asyncio.sleep(idle_seconds)
        cpu = (relay.cpu_seconds() - cpu_before) / (time.monotonic() - began)
        rss = relay.rss_mb()
        latencies = []
        for user in probed:
            text = rig.names.next()
            await write(rig.redis, user, text, rig.timeline)
            await rig.fake.wait_received(rig.timeline, [text], 30)
            await rig.timeline.load_po_times(rig.redis)
            latencies.append(rig.timeline.added_ms(text))
            await asyncio.sleep(0.5)
        return IdleResult(sessions, cpu, rss, rss_start, latencies)
    finally:
        relay.stop()
        po.terminate()
        po.wait()


async def _wait_loaded(relay: ChildProcess, sessions: int, timeout: float = 120) -> None:
    """Until the relay's log says it loaded ``sessions`` users over its partitions."""

    def loaded() -> int:
        total = 0
        for line in relay.log.read_text(errors="replace").splitlines():
            with contextlib.suppress(msgspec.DecodeError):
                event = msgspec.json.decode(line)
                if isinstance(event, dict) and event.get("event") == "replies_partition_loaded":
                    total += int(event["users"])
        return total

    await _poll(lambda: _true(loaded() >= sessions), timeout)


async def _true(value: bool) -> bool:
    return value


async def _poll(probe: Callable[[], Awaitable[bool]], timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while True:
            if await probe():
                return
            await asyncio.sleep(0.2)
