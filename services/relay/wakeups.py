"""Idle users woken when their PO writes: keyspace notifications, and a slow reconciling sweep.

The reply readers serve only ``bot:active:{p}``; a user is pruned from it
a day after their last message, their cursor kept. When their PO writes
later, this module hands them back to the reply reader
(:meth:`~services.relay.replies.ReplyForwarder.wake`) within a second:

* one pub/sub connection per relay, ``PSUBSCRIBE`` on the keyspace
  channel of the profile's output streams (``__keyspace@{db}__:worker:po:*:output``
  in seed); an ``xadd`` of an owned, untracked user wakes them. The
  notifications are switched on at start (``K`` and ``t`` merged into
  ``notify-keyspace-events``, nothing dropped); where ``CONFIG`` is refused
  one warning, and the sweep alone;
* the sweep (``sweep.lua``, one call per ``HSCAN`` chunk of
  ``bot:cursor:{p}``): every ``IDLE_SWEEP_S``, at each partition start
  and after each (re)subscribe (notifications sent while the connection
  was down are lost), the untracked users whose output stream has an
  entry after their cursor.

Nothing runs per idle user: no timer, no read. A woken user with no
session is checked with the API first; one it no longer knows gets
nothing (the entries are skipped, the cursor moved, fenced). The design
and its measured cost: the relay's "Idle users" section of
``docs/ARCHITECTURE.md``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

import redis.asyncio as aioredis
from prometheus_client import Counter
from redis.exceptions import RedisError, ResponseError

from services.relay import keyspace
from services.relay.blocking import abandon
from services.relay.contracts import POContract
from services.relay.partitions import Ownership
from shared import keys
from shared.api import ApiError
from shared.backoff import backoff_delay
from shared.connections import text
from shared.log import get_logger
from shared.metrics import PREFIX, Metrics
from shared.schemas import User
from shared.scripts import register
from shared.stopping import pause

log = get_logger(__name__)

Source = Literal["notification", "sweep", "forgotten"]
SCAN_COUNT: Final = 250
"""Users per sweep call: about 2 ms of Redis time each (8 µs a user, docs/BENCHMARKS.md),
so other clients never wait long behind one."""
SKIP_LIMIT: Final = 10_000
"""Entries skipped per call for an unknown user; a longer backlog goes on at the next sweep."""
LISTEN_TIMEOUT_S: Final = 30.0
"""The pub/sub read returns this often when nothing happens (redis-py's health check)."""
WAKE_CONCURRENCY: Final = 16
REQUIRED_FLAGS: Final = ("K", "t")
"""Keyspace events (``K``) of stream commands (``t``, or ``A`` for all classes)."""


class Replies(Protocol):
    """The reply reader, as the wake-ups use it."""

    forgotten: Callable[[int], None] | None
    """Set by the wake-ups: a woken user forgotten (idle again) is checked once more."""

    def tracks(self, user_id: int) -> bool: ...

    async def wake(
        self, partition: int, user_id: int, chat_id: int | None, position: str
    ) -> bool: ...


class Users(Protocol):
    """The backend API's user lookup (``shared.api.ApiClient``)."""

    async def find_user(self, telegram_id: int) -> User | None: ...


@dataclass(frozen=True, slots=True)
class _Waiting:
    cursor: str
    chat_id: int | None
    has_session: bool


class Wakeups:
    """Wakes idle users whose PO wrote; see the module docstring."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        identity: str,
        contract: POContract,
        replies: Replies,
        ownership: Ownership,
        users: Users | None,
        sweep_every_s: float,
        metrics: Metrics,
    ) -> None:
        self._redis = redis
        self._identity = identity
        self._contract = contract
        self._replies = replies
        self._ownership = ownership
        self._users = users
        self._sweep_every_s = sweep_every_s
        db = int(redis.connection_pool.connection_kwargs.get("db", 0))
        self._channel = keyspace.notifications(db, contract.output_pattern)
        self._prefix, _, self._suffix = contract.output_pattern.partition("*")
        self._sweep = register(redis, __file__, "sweep.lua")
        self._load = register(redis, __file__, "wake_load.lua")
        self._skip = register(redis, __file__, "skip_unknown.lua")
        self._partitions: set[int] = set()
        self._partition_sweeps: dict[int, asyncio.Task[None]] = {}
        self._waking: set[int] = set()
        """Users being woken: a notification and a sweep finding one user wake them once."""
        self._tasks: set[asyncio.Task[Any]] = set()
        self._slots = asyncio.Semaphore(WAKE_CONCURRENCY)
        self._config_refused = False
        self._woken = Counter(
            f"{PREFIX}idle_users_woken",
            "Idle users handed back to the reply reader because their PO wrote, by source.",
            ["service", "source"],
            registry=metrics.registry,
        )
        self._unknown = Counter(
            f"{PREFIX}po_messages_user_unknown",
            "PO output entries skipped: written to a user the API no longer knows.",
            ["service"],
            registry=metrics.registry,
        ).labels(service=metrics.service)
        self._service = metrics.service
        replies.forgotten = self._recheck

    def _recheck(self, user_id: int) -> None:
        self._consider(user_id, "forgotten")

    # --- partitions ------------------------------------------------------------------------

    async def start_partition(self, partition: int) -> None:
        """A partition taken over: sweep it now (what was written while nobody owned it)."""
        self._partitions.add(partition)
        task = asyncio.create_task(self._sweep_one(partition), name=f"wakeups-sweep-{partition}")
        self._partition_sweeps[partition] = task

    async def stop_partition(self, partition: int, *, drain: bool) -> None:
        self._partitions.discard(partition)
        task = self._partition_sweeps.pop(partition, None)
        if task is not None and not task.done():
            await abandon(task)

    async def _sweep_one(self, partition: int) -> None:
        try:
            await self.sweep([partition], event="wakeups_partition_swept")
        except RedisError as exc:
            log.warning("wakeups_sweep_failed", partition=partition, error=type(exc).__name__)

    # --- running ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await asyncio.gather(self._listen(stop), self._sweep_loop(stop))
        finally:
            tasks = [*self._tasks, *self._partition_sweeps.values()]
            await asyncio.gather(*(abandon(task) for task in tasks))

    async def _sweep_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await pause(stop, self._sweep_every_s)
            if stop.is_set():
                return
            try:
                await self.sweep(sorted(self._partitions))
            except RedisError as exc:
                log.warning("wakeups_sweep_failed", error=type(exc).__name__)

    async def _listen(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            listening = asyncio.ensure_future(self._subscribed(stop))
            stopped = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({listening, stopped}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopped.cancel()
                if not listening.done():
                    await abandon(listening)
            if listening.done() and not listening.cancelled() and listening.exception():
                failures += 1
                error = listening.exception()
                if failures == 1 or failures % 20 == 0:
                    log.warning(
                        "wakeups_listen_failed", error=type(error).__name__, failures=failures
                    )
                await pause(stop, backoff_delay(failures))
            else:
                failures = 0

    async def _subscribed(self, stop: asyncio.Event) -> None:
        """One pub/sub connection until it fails (redis-py's own reconnects resubscribe)."""
        pubsub = self._redis.pubsub()
        try:
            await pubsub.psubscribe(self._channel)
            while not stop.is_set():
                message = await pubsub.get_message(timeout=LISTEN_TIMEOUT_S)
                if message is not None:
                    self._on_message(message)
        finally:
            await pubsub.aclose()

    def _on_message(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "psubscribe":
            # Subscribed, or subscribed again after a reconnect: whatever was
            # written meanwhile was not announced; the sweep finds it.
            self._spawn(self._after_subscribe(), "wakeups-resubscribed")
        elif kind == "pmessage" and message["data"] == b"xadd":
            key = text(message["channel"]).split(":", 1)[1]
            user_id = self._contract.user_of_output(key)
            if user_id is not None:
                self._consider(user_id, "notification")

    async def _after_subscribe(self) -> None:
        try:
            await self._ensure_notifications()
            log.info("wakeups_subscribed", channel=self._channel)
            await self.sweep(sorted(self._partitions))
        except RedisError as exc:
            log.warning("wakeups_sweep_failed", error=type(exc).__name__)

    async def _ensure_notifications(self) -> None:
        """Merge ``K`` and ``t`` into ``notify-keyspace-events``, dropping no flag set already."""
        try:
            config: Any = await self._redis.config_get("notify-keyspace-events")
            current = "".join(text(value) for value in config.values())
            missing = [f for f in REQUIRED_FLAGS if f not in current]
            if "A" in current and "t" in missing:
                missing.remove("t")
            if missing:
                flags = current + "".join(missing)
                await self._redis.config_set("notify-keyspace-events", flags)
                log.info("wakeups_notifications_enabled", flags=flags)
        except ResponseError as exc:
            # Managed Redis refuses CONFIG: the sweep alone (IDLE_SWEEP_S) wakes idle users.
            if not self._config_refused:
                self._config_refused = True
                log.warning("wakeups_notifications_unavailable", error=str(exc))

    # --- the sweep and the wake-up -----------------------------------------------------------

    async def sweep(self, partitions: Iterable[int], *, event: str = "wakeups_swept") -> int:
        """Wake each untracked user of ``partitions`` with output after their cursor: how many."""
        began = time.monotonic()
        found = 0
        swept = list(partitions)
        for partition in swept:
            position = "0"
            while partition in self._partitions:
                reply: Any = await self._sweep(
                    keys=[keyspace.reply_cursor(partition), keyspace.active(partition)],
                    args=[position, SCAN_COUNT, self._prefix, self._suffix],
                )
                position = text(reply[0])
                for raw in reply[1:]:
                    if self._consider(int(text(raw)), "sweep"):
                        found += 1
                if position == "0":
                    break
        elapsed_ms = round((time.monotonic() - began) * 1000, 1)
        log.info(event, partitions=swept, found=found, ms=elapsed_ms)
        return found

    def _consider(self, user_id: int, source: Source) -> bool:
        """Wake the user unless tracked, being woken, or of a partition not ours."""
        partition = keys.partition_of(user_id)
        if (
            partition not in self._partitions
            or user_id in self._waking
            or self._replies.tracks(user_id)
        ):
            return False
        self._waking.add(user_id)
        self._spawn(self._wake(partition, user_id, source), f"wake-{user_id}")
        return True

    def _spawn(self, work: Any, name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _wake(self, partition: int, user_id: int, source: Source) -> None:
        try:
            async with self._slots:
                waiting = await self._waiting(partition, user_id)
                if waiting is None or not await self._known(partition, user_id, waiting):
                    return
                if not self._ownership.owns(partition):
                    return
                if await self._replies.wake(partition, user_id, waiting.chat_id, waiting.cursor):
                    self._woken.labels(service=self._service, source=source).inc()
                    log.info("reply_user_woken", user_id=user_id, partition=partition, via=source)
        except RedisError as exc:
            # Nothing moved: the next notification or sweep tries again.
            log.warning("wakeup_failed", user_id=user_id, error=type(exc).__name__)
        except Exception:
            log.exception("wakeup_failed", user_id=user_id)
        finally:
            self._waking.discard(user_id)

    async def _waiting(self, partition: int, user_id: int) -> _Waiting | None:
        """The user's cursor and chat if an entry waits after the cursor and they are idle."""
        reply: Any = await self._load(
            keys=[
                keyspace.reply_cursor(partition),
                self._contract.output_stream(user_id),
                keyspace.active(partition),
                keys.session(user_id),
                keys.user_chat(user_id),
                keyspace.chats(partition),
            ],
            args=[user_id],
        )
        cursor, newer, active, session, chat = (text(value) for value in reply)
        # No cursor: never wrote (nowhere to send). Active: their reader has it already.
        if not cursor or newer != "1" or active == "1":
            return None
        return _Waiting(cursor, int(chat) if chat else None, session == "1")

    async def _known(self, partition: int, user_id: int, waiting: _Waiting) -> bool:
        """Whether the API still knows the user (a live session: yes, without asking)."""
        if waiting.has_session or self._users is None or waiting.chat_id is None:
            # No chat known (they last wrote before bot:chats:{p} existed): delivery
            # dead-letters the entries as "no_chat", where they can be found.
            return True
        try:
            # The bot serves private chats only: the chat id is the user's Telegram id.
            user = await self._users.find_user(waiting.chat_id)
        except ApiError as exc:
            log.warning("wakeup_api_unavailable", user_id=user_id, error=type(exc).__name__)
            return False
        if user is not None and user.id == user_id:
            return True
        skipped = await self._skip(
            keys=[
                keyspace.lease(partition),
                keyspace.reply_cursor(partition),
                self._contract.output_stream(user_id),
            ],
            args=[self._identity, user_id, SKIP_LIMIT],
        )
        if int(skipped) >= 0:
            self._unknown.inc(int(skipped))
            log.warning("po_message_user_unknown", user_id=user_id, count=int(skipped))
        else:
            self._ownership.report_lost(partition)
        return False
