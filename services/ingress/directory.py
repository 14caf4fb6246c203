"""Who may use the bot: the API's answer per Telegram id, cached for a while.

The cache lives in this process. A polling ingress is one replica, so that
is the whole truth; in webhook mode each replica keeps its own, so a user
can cost one lookup per replica per period, and a revoked user is out of
every replica within the same period. That is cheaper and simpler than a
Redis cache and keeps the auth path free of one more dependency that can
fail. The cache is bounded (least recently used entries go first), so a
flood of strangers cannot grow it without limit.

Concurrent lookups of one id share one API call (webhook replicas handle
requests concurrently): a burst from one person is one lookup, and only
one of those callers is told it made the fresh lookup. The call runs in a
task of the directory's own, so a caller that is cancelled (its request
cut) never cancels it for the others; it is cancelled only once nobody
waits for it any more.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, NamedTuple, TypeVar

from shared.api import ApiClient
from shared.log import get_logger
from shared.schemas import User

log = get_logger(__name__)

K = TypeVar("K")
V = TypeVar("V")

Clock = Callable[[], float]


class TtlCache(Generic[K, V]):
    """A bounded map whose entries expire; the least recently used goes first when full."""

    def __init__(self, max_size: int, clock: Clock = time.monotonic) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self._max_size = max_size
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> tuple[bool, V | None]:
        """``(True, value)`` while the entry lives, else ``(False, None)``."""
        entry = self._entries.get(key)
        if entry is None:
            return False, None
        expires, value = entry
        if self._clock() >= expires:
            del self._entries[key]
            return False, None
        self._entries.move_to_end(key)
        return True, value

    def pop(self, key: K) -> None:
        self._entries.pop(key, None)

    def put(self, key: K, value: V, ttl_s: float) -> None:
        if ttl_s <= 0:
            self._entries.pop(key, None)
            return
        self._entries[key] = (self._clock() + ttl_s, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_size:
            self._entries.popitem(last=False)


class Lookup(NamedTuple):  # a tuple: built for every update, and cheaper than a dataclass
    user: User | None
    """The API's user with exactly this Telegram id; ``None`` for a stranger."""
    fresh: bool
    """True for the one caller whose question went to the API (not the cache)."""


class _Shared:
    """One API call in flight for one id, and how many callers wait for it."""

    __slots__ = ("fresh_taken", "task", "waiters")

    def __init__(self, task: asyncio.Task[User | None]) -> None:
        self.task = task
        self.waiters = 0
        self.fresh_taken = False


class UserDirectory:
    """``lookup(telegram_id)``: the cached answer, or the API's. ``ApiError`` is not cached."""

    def __init__(
        self,
        api: ApiClient,
        *,
        known_ttl_s: float,
        unknown_ttl_s: float,
        max_size: int,
        clock: Clock = time.monotonic,
    ) -> None:
        self._api = api
        self._known_ttl_s = known_ttl_s
        self._unknown_ttl_s = unknown_ttl_s
        self._cache: TtlCache[int, User | None] = TtlCache(max_size, clock)
        self._inflight: dict[int, _Shared] = {}

    async def lookup(self, telegram_id: int) -> Lookup:
        hit, user = self._cache.get(telegram_id)
        if hit:
            return Lookup(user, fresh=False)
        shared = self._inflight.get(telegram_id)
        if shared is None:
            task = asyncio.create_task(self._ask_api(telegram_id), name=f"lookup-{telegram_id}")
            shared = self._inflight[telegram_id] = _Shared(task)
            task.add_done_callback(lambda _task: self._forget(telegram_id, shared))
        shared.waiters += 1
        try:
            # shield: one waiter giving up must not cancel the others' lookup.
            user = await asyncio.shield(shared.task)
        except asyncio.CancelledError:
            if shared.waiters == 1 and not shared.task.done():
                shared.task.cancel()  # the last one waiting: nobody needs the answer
            raise
        finally:
            shared.waiters -= 1
        # The first caller to get the answer counts as the one that asked.
        fresh, shared.fresh_taken = not shared.fresh_taken, True
        return Lookup(user, fresh=fresh)

    def forget(self, telegram_id: int) -> None:
        """Drop what is cached about ``telegram_id``: the next lookup asks the API."""
        self._cache.pop(telegram_id)

    def _forget(self, telegram_id: int, shared: _Shared) -> None:
        if self._inflight.get(telegram_id) is shared:
            del self._inflight[telegram_id]

    async def _ask_api(self, telegram_id: int) -> User | None:
        user = await self._api.find_user(telegram_id)
        # Cached here, not by a caller: the answer counts even if they all gave up.
        ttl = self._known_ttl_s if user is not None else self._unknown_ttl_s
        self._cache.put(telegram_id, user, ttl)
        return user
