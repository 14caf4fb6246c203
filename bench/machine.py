"""How fast this machine runs Python right now, printed beside every benchmark's figures.

The development machines' CPU speed varies from day to day by a factor of
three or more (a shared host), and every latency figure moves with it. A
fixed pure-Python loop and a Redis round trip over loopback (syscalls and
wake-ups, which the relay's latency depends on most), timed once per run,
let figures from different days be compared: read them next to these.
"""

from __future__ import annotations

import time

import redis

LOOP_STEPS = 10_000_000


def loop_seconds() -> float:
    """CPU seconds a 10-million-step ``for`` loop of additions takes (best of three)."""
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        total = 0
        for i in range(LOOP_STEPS):
            total += i
        best = min(best, time.process_time() - start)
    return best


def ping_microseconds(redis_url: str, count: int = 5_000) -> float:
    """Median-free mean of ``count`` Redis PINGs over loopback: the syscall and wake-up cost."""
    client = redis.Redis.from_url(redis_url)
    try:
        client.ping()
        start = time.perf_counter()
        for _ in range(count):
            client.ping()
        return (time.perf_counter() - start) / count * 1e6
    finally:
        client.close()


def describe(redis_url: str | None = None) -> str:
    text = f"machine: a 10-million-step Python loop took {loop_seconds():.2f} s of CPU (best of 3)"
    if redis_url is not None:
        text += f"; a Redis PING round trip took {ping_microseconds(redis_url):.0f} µs"
    return text
