"""``po-service`` answers: each pending request's ``po:response:{id}``, read in order.

The owner of partition ``p`` knows, for each user in ``bot:po:users:{p}``,
their pending requests in the order sent
(:mod:`~services.relay.pending_requests`). One blocking ``XREAD`` (plus a
wake stream) reads, from id ``0``, the response stream of each user's
OLDEST waiting request and of every request already reported late: answers
reach a chat in request order. Each answer read, and each deadline passed,
is queued as a step on its user for :mod:`~services.relay.request_delivery`:
an answer sent keyed, then the request forgotten; a request unanswered
``PO_REPLY_TIMEOUT_S`` after it was sent: the user told once, the request
waiting on as late for ``late_s`` more (its answer delivered whenever it
comes), and the user's next request the head. See
``docs/ARCHITECTURE.md``, "PO contract profiles".
"""

from __future__ import annotations

import asyncio
from typing import Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from services.relay import keyspace
from services.relay.blocking import Waker, abandon, read_streams
from services.relay.cancellations import Cancellations
from services.relay.contracts import po_service
from services.relay.languages import ChatLanguages
from services.relay.outbound import Outbound
from services.relay.partitions import Ownership
from services.relay.pending_requests import PendingRequest, PendingRequests, Step, now_ms
from services.relay.reactions import AckReactions
from services.relay.request_delivery import RequestDelivery
from services.relay.typing_indicator import TypingIndicator
from shared.backoff import backoff_delay
from shared.log import get_logger
from shared.metrics import Metrics
from shared.stopping import pause
from shared.streams import Fields

log = get_logger(__name__)

DRAIN_TIMEOUT_S: Final = 8.0


class RequestReplies:
    """Reads the owned partitions' ``po-service`` answers; see the module docstring."""

    def __init__(
        self,
        redis: aioredis.Redis,
        blocking: aioredis.Redis,
        *,
        identity: str,
        outbound: Outbound,
        ownership: Ownership,
        typing: TypingIndicator,
        late_s: float,
        reply_timeout_s: float = 120.0,
        languages: ChatLanguages,
        max_attempts: int = 8,
        max_age_s: float = 600.0,
        block_ms: int = 10_000,
        metrics: Metrics | None = None,
        cancellations: Cancellations | None = None,
        reactions: AckReactions | None = None,
    ) -> None:
        self._blocking = blocking
        self._reply_timeout_ms = int(reply_timeout_s * 1000)
        self._ownership = ownership
        self._block_ms = block_ms
        self._pending = PendingRequests(redis, identity)
        self._waker = Waker(redis, keyspace.wake(identity, "po-requests"))
        self._delivery = RequestDelivery(
            redis,
            self._pending,
            self._waker,
            identity=identity,
            outbound=outbound,
            ownership=ownership,
            typing=typing,
            late_ms=int(late_s * 1000),
            languages=languages,
            max_attempts=max_attempts,
            max_age_s=max_age_s,
            metrics=metrics or Metrics("relay"),
            cancellations=cancellations or Cancellations(redis),
            reactions=reactions or AckReactions(redis, outbound, enabled=False),
        )

    @property
    def backlog(self) -> int:
        """Answers read and not yet delivered, over every user."""
        return sum(len(user.steps) for user in self._pending.users.values())

    # --- partitions and users ---------------------------------------------------------

    async def start_partition(self, partition: int) -> None:
        await self._pending.load_partition(partition)
        await self._waker.wake()

    async def stop_partition(self, partition: int, *, drain: bool) -> None:
        gone = self._pending.forget_partition(partition)
        tasks = [u.task for u in gone if u.task is not None]
        if tasks and drain:
            await asyncio.wait(tasks, timeout=DRAIN_TIMEOUT_S)
        await asyncio.gather(*(abandon(t) for t in tasks if not t.done()))

    async def activate(
        self, partition: int, user_id: int, chat_id: int, position: str, *, fresh: bool = False
    ) -> None:
        """A request of the user was forwarded (``position``: its id): wait for its answer.

        ``fresh`` (this relay just forwarded it): added as the forwarding script
        recorded it, with no read back; else (a re-read found it forwarded
        before, perhaps answered since) loaded from Redis.
        """
        if fresh:
            deadline_ms = now_ms() + self._reply_timeout_ms
            await self._pending.add(partition, user_id, position, chat_id, deadline_ms)
        else:
            await self._pending.load(partition, user_id)
        await self._waker.wake()

    # --- reading --------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            self._waker.arm()
            self._expire()
            issued = {po_service.response_stream(r.request_id): r for r in self._pending.readable()}
            streams = {self._waker.stream: self._waker.position}
            streams |= dict.fromkeys(issued, "0-0")
            try:
                reply = await read_streams(
                    self._blocking, streams, count=1, block_ms=self._block_for(), stop=stop
                )
                failures = 0
            except RedisError as exc:
                self._ownership.redis_failed()
                failures += 1
                log.warning("po_answers_read_failed", error=type(exc).__name__)
                await pause(stop, backoff_delay(failures))
                continue
            answers: dict[str, Fields] = {}
            for stream, entries in reply or []:
                if stream == self._waker.stream:
                    self._waker.saw(entries)
                elif entries:
                    answers[stream] = entries[0][1]
            # In request order: a late answer and the head's in one read keep theirs.
            for stream, request in issued.items():
                if stream in answers:
                    self._queue_step("answer", request, answers[stream])

    def _block_for(self) -> int:
        now = now_ms()
        deadlines = [r.deadline_ms - now for r in self._pending.readable()]
        return max(1, min([self._block_ms, *deadlines]))

    def _expire(self) -> None:
        now = now_ms()
        for request in self._pending.readable():
            if request.deadline_ms <= now:
                self._queue_step("abandon" if request.late else "timeout", request, {})

    def _queue_step(self, step: Step, request: PendingRequest, fields: Fields) -> None:
        """Hand the request to its user's delivery task (started if none runs)."""
        user = self._pending.users.get(request.user_id)
        if user is None or request not in user.requests:
            return
        request.handling = True
        user.steps.append((step, request, fields))
        if user.task is None:
            user.task = asyncio.create_task(
                self._delivery.work(user), name=f"po-answers-{user.user_id}"
            )
