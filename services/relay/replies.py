"""PO replies to users' chats: every output entry of every active user, in order, once.

The owner of partition ``p`` serves the users in ``bot:active:{p}``, each
from their cursor ``bot:cursor:{p}[user]``. Reading costs nothing per idle
user: a small *hot* blocking ``XREAD`` for users active lately, re-issued
after each reply, and one *cold* ``XREAD`` per owned partition, with a long
block, for everyone else; each reader has a wake stream in its read, so a
change to its set takes effect at once. Delivery, one user's entries in
order, is :mod:`services.relay.reply_delivery`'s. The design, with its
numbers, is in the relay's "Replies" section of ``docs/ARCHITECTURE.md``.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from services.relay import keyspace
from services.relay.blocking import (
    Entries,
    Reader,
    Temperature,
    Waker,
    abandon,
    id_after,
    read_streams,
)
from services.relay.cancellations import Cancellations
from services.relay.contracts import SEED, POContract
from services.relay.cursors import Cursors
from services.relay.languages import ChatLanguages
from services.relay.outbound import Outbound
from services.relay.partitions import Ownership
from services.relay.pruning import ExpiredSessions
from services.relay.reactions import AckReactions
from services.relay.reply_delivery import (
    QUEUE_LIMIT,
    QueuedReply,
    ReplyDelivery,
    ReplyStats,
    ReplyUser,
)
from services.relay.typing_indicator import TypingIndicator
from shared import keys
from shared.backoff import backoff_delay
from shared.log import get_logger
from shared.metrics import Metrics
from shared.stopping import pause

log = get_logger(__name__)

DRAIN_TIMEOUT_S: Final = 8.0
"""How long a partition handed over waits for its replies in flight: the
backoff of a send's own retries (about 7.5 s at most) fits, so a send is
rarely cut off mid-request (which could show it twice); a request hanging
towards the client's 60 s timeout is still cut off. With the incoming
side's 3 s, a stop stays within the 15 s that supervisord and compose give."""


class ReplyForwarder:
    """Reads and delivers the owned partitions' PO replies; see the module docstring."""

    def __init__(
        self,
        redis: aioredis.Redis,
        blocking: aioredis.Redis,
        *,
        identity: str,
        outbound: Outbound,
        cursors: Cursors,
        ownership: Ownership,
        typing: TypingIndicator,
        languages: ChatLanguages,
        concurrency: int = 32,
        max_attempts: int = 8,
        max_age_s: float = 600.0,
        hot_block_ms: int = 10_000,
        cold_block_ms: int = 20_000,
        hot_idle_s: float = 30.0,
        sweep_every_s: float = 10.0,
        prune_every_s: float = 600.0,
        batch: int = 50,
        metrics: Metrics | None = None,
        contract: POContract = SEED,
        cancellations: Cancellations | None = None,
        reactions: AckReactions | None = None,
    ) -> None:
        self._contract = contract
        self._redis = redis
        self._blocking = blocking
        self._identity = identity
        self._ownership = ownership
        self._typing = typing
        self._hot_idle_s = hot_idle_s
        self._sweep_every_s = sweep_every_s
        self._prune_every_s = prune_every_s
        self._batch = batch
        self._users: dict[int, ReplyUser] = {}
        self._by_partition: dict[int, set[int]] = {}
        self._woken: set[int] = set()
        """Users read only because their PO wrote while they were idle (:meth:`wake`)."""
        self.forgotten: Callable[[int], None] | None = None  # told when a woken user is forgotten
        self._hot = Reader("hot", Waker(redis, keyspace.wake(identity, "hot")), hot_block_ms)
        self._cold: dict[int, Reader] = {}
        """The cold reader of each owned partition."""
        self._cold_block_ms = cold_block_ms
        self._closing = asyncio.Event()
        self._expired = ExpiredSessions(redis, identity)
        self.stats = ReplyStats()
        self._delivery = ReplyDelivery(
            identity=identity,
            outbound=outbound,
            cursors=cursors,
            ownership=ownership,
            languages=languages,
            metrics=metrics or Metrics("relay"),
            stats=self.stats,
            concurrency=concurrency,
            max_attempts=max_attempts,
            max_age_s=max_age_s,
            resume_reading=self._resume_reading,
            contract=contract,
            cancellations=cancellations or Cancellations(redis),
            reactions=reactions or AckReactions(redis, outbound, enabled=False),
        )

    @property
    def backlog(self) -> int:
        """Reply entries read and not yet handled, over every user."""
        return sum(len(user.queue) for user in self._users.values() if user.queue)

    # --- partitions and users ---------------------------------------------------------

    async def start_partition(self, partition: int) -> None:
        """Load the partition's active users, their positions and chats; all start cold."""
        members: Any = await self._redis.smembers(keyspace.active(partition))
        user_ids = sorted(int(member) for member in members)
        positions: Any = []
        chats: Any = []
        if user_ids:
            # Only the active users' cursors: the hash also keeps those of users pruned.
            positions = await self._redis.hmget(keyspace.reply_cursor(partition), user_ids)
            chats = await self._redis.mget([keys.user_chat(u) for u in user_ids])
        self._cold_reader(partition)
        users = self._by_partition.setdefault(partition, set())
        for user_id, raw, chat in zip(user_ids, positions, chats, strict=True):
            # No position (never expected: the script writes both): from the start, losing nothing.
            position = raw.decode() if raw is not None else "0-0"
            chat_id = int(chat) if chat is not None else None
            self._add(ReplyUser(user_id, partition, chat_id, position))
            users.add(user_id)
        log.info("replies_partition_loaded", partition=partition, users=len(user_ids))

    async def stop_partition(self, partition: int, *, drain: bool) -> None:
        user_ids = self._by_partition.pop(partition, set())
        tasks = []
        for user_id in user_ids:
            user = self._remove(user_id)
            if user is not None and user.task is not None:
                tasks.append(user.task)
        cold = self._cold.pop(partition, None)
        if cold is not None and cold.task is not None:
            await abandon(cold.task)
        if not tasks:
            return
        if drain:
            # Each task finishes the entry in hand and stops; the rest is the next owner's.
            await asyncio.wait(tasks, timeout=DRAIN_TIMEOUT_S)
        await asyncio.gather(*(abandon(task) for task in tasks if not task.done()))

    async def activate(
        self, partition: int, user_id: int, chat_id: int, position: str, *, fresh: bool = False
    ) -> None:
        """A message of the user reached their PO: read their replies, hot, from now on."""
        user = self._users.get(user_id)
        if user is None or user.partition != partition:
            self._remove(user_id)
            user = self._add(ReplyUser(user_id, partition, chat_id, position))
            self._by_partition.setdefault(partition, set()).add(user_id)
        user.chat_id = chat_id
        user.last_active = time.monotonic()
        self._woken.discard(user_id)
        await self._make_hot(user)

    def tracks(self, user_id: int) -> bool:
        """Whether the user's replies are read already (active, or woken and not yet forgotten)."""
        return user_id in self._users

    async def wake(self, partition: int, user_id: int, chat_id: int | None, position: str) -> bool:
        """The PO wrote to an idle user (not in ``bot:active:{p}``): read them, hot.

        Once idle again (``hot_idle_s``) they are forgotten, not moved to the
        cold read. False: tracked already, or the partition not started.
        """
        if user_id in self._users or partition not in self._by_partition:
            return False
        now = time.monotonic()
        user = self._add(ReplyUser(user_id, partition, chat_id, position, last_active=now))
        self._by_partition[partition].add(user_id)
        self._woken.add(user_id)
        await self._make_hot(user)
        return True

    def _cold_reader(self, partition: int) -> Reader:
        reader = self._cold.get(partition)
        if reader is None:
            waker = Waker(self._redis, keyspace.wake(self._identity, f"cold:{partition}"))
            reader = self._cold[partition] = Reader("cold", waker, self._cold_block_ms)
            reader.task = asyncio.create_task(
                self._read_loop(self._closing, reader), name=f"replies-cold-{partition}"
            )
        return reader

    def _reader_of(self, user: ReplyUser) -> Reader:
        return self._hot if user.hot else self._cold_reader(user.partition)

    def _add(self, user: ReplyUser) -> ReplyUser:
        self._users[user.user_id] = user
        self._reader_of(user).users.add(user.user_id)
        return user

    def _remove(self, user_id: int) -> ReplyUser | None:
        user = self._users.pop(user_id, None)
        if user is not None:
            user.removed = True
            self._woken.discard(user_id)
            self._hot.users.discard(user_id)
            if (cold := self._cold.get(user.partition)) is not None:
                cold.users.discard(user_id)
        return user

    async def _make_hot(self, user: ReplyUser) -> None:
        if user.hot:
            return
        # The cold read is re-issued without the user now, while the PO is still
        # thinking, rather than when the reply comes (both reads would return it
        # and the big one be re-issued on the reply's critical path).
        cold = self._cold_reader(user.partition)
        user.hot = True
        cold.users.discard(user.user_id)
        self._hot.users.add(user.user_id)
        await self._hot.waker.wake()
        await cold.waker.wake()

    # --- reading ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await asyncio.gather(self._read_loop(stop, self._hot), self._sweep_loop(stop))
        finally:
            # The cold readers live with their partitions; any left stop here.
            self._closing.set()
            tasks = [r.task for r in self._cold.values() if r.task is not None]
            await asyncio.gather(*(abandon(task) for task in tasks))

    async def _read_loop(self, stop: asyncio.Event, reader: Reader) -> None:
        failures = 0
        while not stop.is_set():
            reader.waker.arm()
            users = (self._users[u] for u in reader.users)
            output = self._contract.output_stream
            issued = {output(u.user_id): u for u in users if not u.held_back}
            streams = {reader.waker.stream: reader.waker.position}
            streams |= {stream: user.position for stream, user in issued.items()}
            try:
                reply = await read_streams(
                    self._blocking, streams, count=self._batch, block_ms=reader.block_ms, stop=stop
                )
                failures = 0
                self.stats.reads[reader.temperature] += 1
                for stream, entries in reply or []:
                    if stream == reader.waker.stream:
                        reader.waker.saw(entries)
                    elif (user := issued.get(stream)) is not None:
                        await self._dispatch(user, entries)
            except RedisError as exc:
                self._ownership.redis_failed()
                failures += 1
                if failures == 1 or failures % 20 == 0:
                    log.warning(
                        "replies_read_failed",
                        reader=reader.temperature,
                        error=type(exc).__name__,
                        failures=failures,
                    )
                await pause(stop, backoff_delay(failures))
            except Exception:
                # A bug must not silence a reader for good: say so, and go on.
                failures += 1
                log.exception("replies_reader_failed", reader=reader.temperature)
                await pause(stop, backoff_delay(failures))

    async def _dispatch(self, user: ReplyUser, entries: Entries) -> None:
        if user.removed or self._users.get(user.user_id) is not user:
            return
        # Both readers may have read the same entries (a user just made hot).
        fresh = [(raw.decode(), fields) for raw, fields in entries]
        fresh = [(i, f) for i, f in fresh if id_after(i, user.position)]
        if not fresh:
            return
        if user.queue is None:
            user.queue = deque()
        user.queue.extend(QueuedReply(entry_id, fields) for entry_id, fields in fresh)
        user.position = fresh[-1][0]
        if len(user.queue) >= QUEUE_LIMIT:
            user.held_back = True
        user.last_active = time.monotonic()
        self._typing.stop(user.user_id)
        await self._make_hot(user)
        if user.task is None:
            user.task = asyncio.create_task(
                self._delivery.work(user), name=f"replies-{user.user_id}"
            )

    async def _resume_reading(self, user: ReplyUser) -> None:
        """The user's queue drained after being held back: their reader reads them again."""
        await self._reader_of(user).waker.wake()

    # --- hot/cold bookkeeping ---------------------------------------------------------------

    async def _sweep_loop(self, stop: asyncio.Event) -> None:
        last_prune = time.monotonic()
        while not stop.is_set():
            await pause(stop, self._sweep_every_s)
            if stop.is_set():
                return
            for reader in self._cool_down():
                await reader.waker.wake()
            if time.monotonic() - last_prune >= self._prune_every_s:
                last_prune = time.monotonic()
                try:
                    await self.prune()
                except RedisError as exc:
                    log.warning("replies_prune_failed", error=type(exc).__name__)

    def _cool_down(self) -> list[Reader]:
        """Move users idle for ``hot_idle_s`` to their cold read; the cold readers that grew."""
        horizon = time.monotonic() - self._hot_idle_s
        grown: dict[int, Reader] = {}
        for user_id in list(self._hot.users):
            user = self._users[user_id]
            if (
                user.task is None
                and user.last_active < horizon
                and not self._typing.waiting(user_id)
            ):
                if user_id in self._woken:
                    self._forget(user)
                    continue
                user.hot = False
                self._hot.users.discard(user_id)
                reader = grown[user.partition] = self._cold_reader(user.partition)
                reader.users.add(user_id)
        return list(grown.values())

    def _forget(self, user: ReplyUser) -> None:
        self._remove(user.user_id)
        self._by_partition.get(user.partition, set()).discard(user.user_id)
        if self.forgotten is not None:
            # Its notification found the user tracked, and the hot read's copy is dropped.
            self.forgotten(user.user_id)

    async def prune(self) -> None:
        """Forget cold users whose session expired (24 h without a message).

        Their reply cursor is kept (a hash field per user who ever wrote): a
        reply their PO writes later wakes them (:mod:`services.relay.wakeups`),
        and one waiting when they write again is sent first, not skipped.
        """
        for partition, user_ids in list(self._by_partition.items()):
            cold = self._cold[partition].users if partition in self._cold else set()
            gone = await self._expired.drop(partition, user_ids & cold)
            for user_id in gone:
                user = self._users.get(user_id)
                if user is not None and user.hot:
                    # Active again since the chunk was picked (a message forwarded
                    # just after the script ran re-created their records): keep.
                    continue
                self._remove(user_id)
                user_ids.discard(user_id)
            if gone:
                log.info("replies_users_pruned", partition=partition, users=len(gone))

    # --- for tests and the benchmark -------------------------------------------------------------

    def users(self, temperature: Temperature | None = None) -> list[int]:
        if temperature is None:
            return list(self._users)
        if temperature == "hot":
            return sorted(self._hot.users)
        return sorted(u for reader in self._cold.values() for u in reader.users)
