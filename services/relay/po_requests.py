"""``po-service`` answers: each pending request's ``po:response:{id}``, delivered in order.

The owner of partition ``p`` knows, for each user in ``bot:po:users:{p}``,
their pending requests in the order sent (``bot:po:queue:{u}``). One
blocking ``XREAD`` (plus a wake stream) reads, from id ``0``, the response
stream of each user's OLDEST waiting request and of every request already
reported late: answers reach a chat in request order. An answer is sent
keyed (``reply:{u}:{request id}``), then one fenced script forgets the
request and deletes its stream. A request unanswered ``PO_REPLY_TIMEOUT_S``
after it was sent: the user is told once (keyed), the request waits on as
late for ``late_s`` more (its answer is delivered whenever it comes), and
the user's next request becomes the head. See ``docs/ARCHITECTURE.md``,
"PO contract profiles".
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from services.relay import keyspace
from services.relay.blocking import Waker, abandon, read_streams
from services.relay.contracts import po_service
from services.relay.cursors import DEAD_LETTER_MAXLEN, dead_letter
from services.relay.failed_sends import FailedSends
from services.relay.outbound import Delivery, Outbound
from services.relay.partitions import Ownership
from services.relay.typing_indicator import TypingIndicator
from shared import keys
from shared.backoff import backoff_delay
from shared.connections import text
from shared.log import get_logger
from shared.metrics import Metrics
from shared.schemas import MalformedEntry, encode_entry
from shared.scripts import register
from shared.stopping import pause
from shared.streams import Fields
from shared.texts import RU, Texts

log = get_logger(__name__)

DRAIN_TIMEOUT_S: Final = 8.0
Step = Literal["answer", "timeout", "abandon"]


@dataclass(eq=False, slots=True)
class _Request:
    request_id: str
    user_id: int
    partition: int
    chat_id: int
    deadline_ms: int
    """Waiting: when the user is told it is late; late: when its answer is given up."""
    late: bool
    handling: bool = False
    """Its answer, notice or abandon is queued for delivery: not read again meanwhile."""
    sends: FailedSends = field(default_factory=FailedSends)
    """Sends of its answer Telegram kept failing on."""


@dataclass(eq=False, slots=True)
class _User:
    user_id: int
    partition: int
    requests: list[_Request] = field(default_factory=list)
    steps: deque[tuple[Step, _Request, Fields]] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Loading from Redis and finishing a request, one at a time: a load must not
    bring back a request just finished, nor a finish drop one just loaded."""

    def waiting(self) -> bool:
        return any(not r.late for r in self.requests)


class RequestReplies:
    """Reads and delivers the owned partitions' ``po-service`` answers; see the docstring."""

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
        texts: Texts = RU,
        max_attempts: int = 8,
        max_age_s: float = 600.0,
        block_ms: int = 10_000,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics or Metrics("relay")
        self._max_attempts = max_attempts
        self._max_age_s = max_age_s
        self._redis = redis
        self._blocking = blocking
        self._identity = identity
        self._outbound = outbound
        self._ownership = ownership
        self._typing = typing
        self._late_ms = int(late_s * 1000)
        self._texts = texts
        self._block_ms = block_ms
        self._users: dict[int, _User] = {}
        self._waker = Waker(redis, keyspace.wake(identity, "po-requests"))
        self._done = register(redis, __file__, "request_done.lua")
        self._late = register(redis, __file__, "request_late.lua")

    @property
    def backlog(self) -> int:
        """Answers read and not yet delivered, over every user."""
        return sum(len(user.steps) for user in self._users.values())

    # --- partitions and users ---------------------------------------------------------

    async def start_partition(self, partition: int) -> None:
        members: Any = await self._redis.smembers(keyspace.po_users(partition))
        for member in sorted(int(m) for m in members):
            await self._load(partition, member)
        await self._waker.wake()

    async def stop_partition(self, partition: int, *, drain: bool) -> None:
        gone = [u for u in self._users.values() if u.partition == partition]
        tasks = [u.task for u in gone if u.task is not None]
        for user in gone:
            del self._users[user.user_id]
        if tasks and drain:
            await asyncio.wait(tasks, timeout=DRAIN_TIMEOUT_S)
        await asyncio.gather(*(abandon(t) for t in tasks if not t.done()))

    async def activate(self, partition: int, user_id: int, chat_id: int, position: str) -> None:
        """A request of the user was forwarded (``position``: its id): wait for its answer."""
        await self._load(partition, user_id)
        await self._waker.wake()

    async def _load(self, partition: int, user_id: int) -> None:
        """The user's pending requests as Redis has them (the only record of them)."""
        while True:
            user = self._users.get(user_id)
            if user is None or user.partition != partition:
                user = self._users[user_id] = _User(user_id, partition)
            async with user.lock:
                if self._users.get(user_id) is not user:
                    continue  # finished and forgotten while this load waited: start over
                await self._reload(user)
                return

    async def _reload(self, user: _User) -> None:
        raw: Any = await self._redis.lrange(keyspace.po_queue(user.user_id), 0, -1)
        ids = [text(r) for r in raw]
        records: Any = []
        if ids:
            records = await self._redis.hmget(keyspace.po_requests(user.partition), ids)
        known = {r.request_id: r for r in user.requests}
        requests = []
        for request_id, record in zip(ids, records, strict=True):
            if request_id in known:
                requests.append(known[request_id])
            elif record is not None:
                _, chat, deadline, state = text(record).split(":")
                requests.append(
                    _Request(
                        request_id,
                        user.user_id,
                        user.partition,
                        int(chat),
                        int(deadline),
                        state == "late",
                    )
                )
        user.requests = requests

    # --- reading --------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            self._waker.arm()
            self._expire()
            issued = {po_service.response_stream(r.request_id): r for r in self._readable()}
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

    def _readable(self) -> list[_Request]:
        """Per user, in order: every late request, and the oldest one still waiting."""
        chosen = []
        for user in self._users.values():
            for request in user.requests:
                if not request.handling:
                    chosen.append(request)
                if not request.late:
                    break
        return chosen

    def _block_for(self) -> int:
        now = _now_ms()
        deadlines = [r.deadline_ms - now for r in self._readable()]
        return max(1, min([self._block_ms, *deadlines]))

    def _expire(self) -> None:
        now = _now_ms()
        for request in self._readable():
            if request.deadline_ms <= now:
                self._queue_step("abandon" if request.late else "timeout", request, {})

    def _queue_step(self, step: Step, request: _Request, fields: Fields) -> None:
        user = self._users.get(request.user_id)
        if user is None or request not in user.requests:
            return
        request.handling = True
        user.steps.append((step, request, fields))
        if user.task is None:
            user.task = asyncio.create_task(self._work(user), name=f"po-answers-{user.user_id}")

    # --- delivery, one user at a time, in order --------------------------------------

    async def _work(self, user: _User) -> None:
        try:
            while user.steps and self._users.get(user.user_id) is user:
                step, request, fields = user.steps[0]
                attempts = 0
                while not await self._handle(user, step, request, fields):
                    if self._users.get(user.user_id) is not user:
                        return
                    attempts += 1
                    await asyncio.sleep(backoff_delay(attempts))
                user.steps.popleft()
                await self._waker.wake()
        finally:
            user.task = None

    async def _handle(self, user: _User, step: Step, request: _Request, fields: Fields) -> bool:
        """One step; False: try again (Telegram or Redis failing)."""
        try:
            if step == "answer":
                return await self._deliver(user, request, fields)
            if step == "timeout":
                # Its answer may have come since the last read (or while it queued behind
                # an earlier one): then it is on time after all.
                found: Any = await self._redis.xrange(
                    po_service.response_stream(request.request_id), count=1
                )
                if found:
                    return await self._deliver(user, request, found[0][1])
                return await self._report_late(user, request)
            log.warning("po_answer_abandoned", user_id=user.user_id, request_id=request.request_id)
            return await self._finish(user, request)
        except RedisError as exc:
            self._ownership.redis_failed()
            log.warning(
                "po_answer_retrying", request_id=request.request_id, error=type(exc).__name__
            )
            return False

    async def _deliver(self, user: _User, request: _Request, fields: Fields) -> bool:
        ids = {"user_id": user.user_id, "request_id": request.request_id}
        try:
            shown = po_service.decode_response(fields, request.request_id).text or ""
        except MalformedEntry as exc:
            log.warning("po_answer_malformed", error=str(exc), **ids)
            shown = self._texts.reply_failed
        if po_service.is_error(fields):
            log.warning("po_answer_error", **ids)
        sent = await self._outbound.send(
            request.chat_id, shown, key=f"reply:{user.user_id}:{request.request_id}"
        )
        if sent.delivery is Delivery.RETRY:
            request.sends.note()
            if request.sends.hopeless(self._max_attempts, self._max_age_s):
                return await self._give_up(user, request, fields, sent.error, sent.error_code)
            log.warning("po_answer_send_retrying", error_code=sent.error_code, **ids)
            return False
        if sent.delivery is Delivery.DELIVERED:
            self._metrics.reply_delivered()
            log.info("reply_delivered", **ids)
        else:
            log.warning("reply_undeliverable", error_code=sent.error_code, **ids)
        return await self._finish(user, request)

    async def _give_up(
        self, user: _User, request: _Request, fields: Fields, error: str, code: int | None
    ) -> bool:
        """As for the stream profiles: the user told in one line (keyed), the answer
        dead-lettered on ``po:response:dead``, and their next answers follow."""
        key = f"reply-failed:{user.user_id}:{request.request_id}"
        told = await self._outbound.send(
            request.chat_id, self._texts.reply_failed, key=key, markdown=False
        )
        stream = po_service.response_stream(request.request_id)
        letter = dead_letter(
            stream,
            "0-0",
            fields,
            consumer=self._identity,
            reason="undeliverable",
            error=f"error_code {code}: {error}" if code is not None else error,
            deliveries=request.sends.count,
        )
        await self._redis.xadd(
            keys.dead_letter(po_service.RESPONSE_PREFIX.rstrip(":")),
            encode_entry(letter),  # type: ignore[arg-type]
            maxlen=DEAD_LETTER_MAXLEN,
            approximate=True,
        )
        self._metrics.dead_letter("po_output")
        log.warning(
            "po_answer_given_up",
            user_id=user.user_id,
            request_id=request.request_id,
            deliveries=request.sends.count,
            user_told=told.delivery is Delivery.DELIVERED,
        )
        return await self._finish(user, request)

    async def _report_late(self, user: _User, request: _Request) -> bool:
        key = f"po-no-answer:{user.user_id}:{request.request_id}"
        sent = await self._outbound.send(
            request.chat_id, self._texts.po_no_answer, key=key, markdown=False
        )
        if sent.delivery is Delivery.RETRY:
            return False
        until = _now_ms() + self._late_ms
        record = f"{user.user_id}:{request.chat_id}:{until}:late"
        others_wait = any(not r.late for r in user.requests if r is not request)
        marked = await self._late(
            keys=[
                keyspace.lease(user.partition),
                keyspace.po_requests(user.partition),
                keyspace.typing(user.partition),
            ],
            args=[
                self._identity,
                request.request_id,
                record,
                user.user_id,
                "0" if others_wait else "1",
            ],
        )
        if not int(marked):
            return self._lost(user)
        log.warning("po_answer_late", user_id=user.user_id, request_id=request.request_id)
        request.late, request.deadline_ms, request.handling = True, until, False
        if not user.waiting():
            self._typing.stop(user.user_id)
        return True

    async def _finish(self, user: _User, request: _Request) -> bool:
        async with user.lock:
            done = await self._done(
                keys=[
                    keyspace.lease(user.partition),
                    keyspace.po_queue(user.user_id),
                    keyspace.po_requests(user.partition),
                    keyspace.po_users(user.partition),
                    po_service.response_stream(request.request_id),
                    keyspace.typing(user.partition),
                ],
                args=[self._identity, user.user_id, request.request_id],
            )
            if not int(done):
                return self._lost(user)
            # Read back: a request forwarded meanwhile keeps its "typing…" and its place.
            user.requests = [r for r in user.requests if r is not request]
            await self._reload(user)
            if not user.waiting():
                self._typing.stop(user.user_id)
            if not user.requests and len(user.steps) <= 1 and self._users.get(user.user_id) is user:
                del self._users[user.user_id]
            return True

    def _lost(self, user: _User) -> bool:
        self._ownership.report_lost(user.partition)
        self._users.pop(user.user_id, None)
        return True


def _now_ms() -> int:
    return int(time.time() * 1000)
