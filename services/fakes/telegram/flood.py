"""Flood control: Telegram's send budgets as a model, on a clock tests can move.

Telegram's real algorithm is unpublished; this is a token bucket per chat
plus sliding windows per group and over every chat, and a refused send puts
the chat under a penalty until the announced ``retry_after`` has passed.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

Clock = Callable[[], float]


class ManualClock:
    """A clock that moves only when told to: flood tests without waiting."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True)
class FloodLimits:
    """Telegram's send budgets; ``None`` lifts a limit.

    ``chat_rate``/``chat_burst``: a token bucket per chat (every chat).
    ``group_limit`` per ``group_window`` s: a sliding window per group chat (id < 0).
    ``global_limit`` per ``global_window`` s: a sliding window over every chat.
    """

    chat_rate: float | None = 1.0
    chat_burst: int = 3
    group_limit: int | None = 20
    group_window: float = 60.0
    global_limit: int | None = 30
    global_window: float = 1.0

    @classmethod
    def off(cls) -> FloodLimits:
        return cls(chat_rate=None, group_limit=None, global_limit=None)


class _TokenBucket:
    def __init__(self, burst: int, now: float) -> None:
        self.tokens = float(burst)
        self.updated = now

    def refill(self, now: float, rate: float, burst: int) -> None:
        self.tokens = min(float(burst), self.tokens + (now - self.updated) * rate)
        self.updated = now

    def wait(self, now: float, rate: float, burst: int) -> float:
        self.refill(now, rate, burst)
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / rate

    def take(self) -> None:
        self.tokens -= 1


class _SlidingWindow:
    def __init__(self) -> None:
        self.times: deque[float] = deque()

    def wait(self, now: float, limit: int, window: float) -> float:
        while self.times and self.times[0] <= now - window:
            self.times.popleft()
        if len(self.times) < limit:
            return 0.0
        return self.times[len(self.times) - limit] + window - now

    def add(self, now: float) -> None:
        self.times.append(now)


class FloodControl:
    """Decides whether a send is allowed now; refusals put the chat under a penalty."""

    def __init__(self, limits: FloodLimits | None = None) -> None:
        self.limits = limits or FloodLimits()
        self.reset()

    def reset(self) -> None:
        self._buckets: dict[int, _TokenBucket] = {}
        self._groups: dict[int, _SlidingWindow] = {}
        self._global = _SlidingWindow()
        self._penalties: dict[int, float] = {}

    def set_limits(self, limits: FloodLimits) -> None:
        self.limits = limits
        self.reset()

    def penalty_until(self, chat_id: int) -> float | None:
        return self._penalties.get(chat_id)

    def admit(self, chat_id: int, now: float) -> int | None:
        """Spend one send for ``chat_id``; return ``retry_after`` seconds if refused."""
        until = self._penalties.get(chat_id, 0.0)
        if until > now:
            # Telegram keeps answering 429 until the announced time has passed.
            return _whole_seconds(until - now)
        wait = max(self._waits(chat_id, now), default=0.0)
        if wait > 0:
            retry_after = _whole_seconds(wait)
            self._penalties[chat_id] = now + retry_after
            return retry_after
        self._spend(chat_id, now)
        return None

    def _waits(self, chat_id: int, now: float) -> Iterator[float]:
        limits = self.limits
        if limits.chat_rate is not None:
            bucket = self._buckets.setdefault(chat_id, _TokenBucket(limits.chat_burst, now))
            yield bucket.wait(now, limits.chat_rate, limits.chat_burst)
        if limits.group_limit is not None and chat_id < 0:
            window = self._groups.setdefault(chat_id, _SlidingWindow())
            yield window.wait(now, limits.group_limit, limits.group_window)
        if limits.global_limit is not None:
            yield self._global.wait(now, limits.global_limit, limits.global_window)

    def _spend(self, chat_id: int, now: float) -> None:
        if chat_id in self._buckets and self.limits.chat_rate is not None:
            self._buckets[chat_id].take()
        if chat_id in self._groups and self.limits.group_limit is not None:
            self._groups[chat_id].add(now)
        self._global.add(now)


def _whole_seconds(seconds: float) -> int:
    # Rounding first keeps float noise (1.0000000002) from becoming an extra second.
    return max(1, math.ceil(round(seconds, 6)))
