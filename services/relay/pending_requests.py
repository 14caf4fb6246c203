"""``po-service`` pending requests: their Redis records, the relay's memory, their fenced changes.

Redis holds the only record of a request the PO has not answered yet:
``bot:po:queue:{u}`` (the user's request ids, in the order sent),
``bot:po:req:{p}`` (per request ``user:chat:deadline_ms:wait|late``) and
``bot:po:users:{p}`` (the users with any). ``forward_request.lua`` writes
them; :class:`PendingRequests` reads them back per user and changes them only
through two scripts fenced by the lease: ``request_late.lua`` (the user was
told it is late) and ``request_done.lua`` (answered and delivered, or given
up). See ``docs/ARCHITECTURE.md``, "PO contract profiles".
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

import redis.asyncio as aioredis

from services.relay import keyspace
from services.relay.contracts import po_service
from services.relay.failed_sends import FailedSends
from shared import keys
from shared.connections import text
from shared.scripts import register
from shared.streams import Fields

Step = Literal["answer", "timeout", "abandon"]
"""What delivery does next for a request: send its answer, tell it is late, or drop it."""


@dataclass(eq=False, slots=True)
class PendingRequest:
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
class RequestUser:
    user_id: int
    partition: int
    requests: list[PendingRequest] = field(default_factory=list)
    steps: deque[tuple[Step, PendingRequest, Fields]] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Loading from Redis and finishing a request, one at a time: a load must not
    bring back a request just finished, nor a finish drop one just loaded."""

    def waiting(self) -> bool:
        return any(not r.late for r in self.requests)


class PendingRequests:
    """The owned partitions' users with pending requests; see the module docstring."""

    def __init__(self, redis: aioredis.Redis, identity: str) -> None:
        self._redis = redis
        self._identity = identity
        self.users: dict[int, RequestUser] = {}
        self._done = register(redis, __file__, "request_done.lua")
        self._late = register(redis, __file__, "request_late.lua")

    def current(self, user: RequestUser) -> bool:
        """Still the relay's record of this user (not forgotten, nor replaced by a new load)."""
        return self.users.get(user.user_id) is user

    def forget(self, user: RequestUser) -> None:
        self.users.pop(user.user_id, None)

    def forget_partition(self, partition: int) -> list[RequestUser]:
        gone = [u for u in self.users.values() if u.partition == partition]
        for user in gone:
            del self.users[user.user_id]
        return gone

    def readable(self) -> list[PendingRequest]:
        """Per user, in order: every late request, and the oldest one still waiting."""
        chosen = []
        for user in self.users.values():
            for request in user.requests:
                if not request.handling:
                    chosen.append(request)
                if not request.late:
                    break
        return chosen

    async def load_partition(self, partition: int) -> None:
        members: Any = await self._redis.smembers(keyspace.po_users(partition))
        for member in sorted(int(m) for m in members):
            await self.load(partition, member)

    async def add(
        self, partition: int, user_id: int, request_id: str, chat_id: int, deadline_ms: int
    ) -> None:
        """A request this relay just forwarded, as the script recorded it (no read back).

        Under the user's lock, as a load: a finish under way rebuilds the list
        from what it read before this request existed, and must not drop it.
        """
        while True:
            user = self.users.get(user_id)
            if user is None or user.partition != partition:
                user = self.users[user_id] = RequestUser(user_id, partition)
            async with user.lock:
                if not self.current(user):
                    continue  # finished and forgotten while this waited: start over
                if not any(r.request_id == request_id for r in user.requests):
                    request = PendingRequest(
                        request_id, user_id, partition, chat_id, deadline_ms, False
                    )
                    user.requests.append(request)
                return

    async def load(self, partition: int, user_id: int) -> None:
        """The user's pending requests as Redis has them (the only record of them)."""
        while True:
            user = self.users.get(user_id)
            if user is None or user.partition != partition:
                user = self.users[user_id] = RequestUser(user_id, partition)
            async with user.lock:
                if not self.current(user):
                    continue  # finished and forgotten while this load waited: start over
                await self._reload(user)
                return

    async def _reload(self, user: RequestUser) -> None:
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
                    PendingRequest(
                        request_id,
                        user.user_id,
                        user.partition,
                        int(chat),
                        int(deadline),
                        state == "late",
                    )
                )
        user.requests = requests

    async def mark_late(self, user: RequestUser, request: PendingRequest, late_ms: int) -> bool:
        """The user was told: the request waits on as late for ``late_ms``, behind no one.
        False: the lease is not this relay's."""
        until = now_ms() + late_ms
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
            return False
        request.late, request.deadline_ms, request.handling = True, until, False
        return True

    async def finish(self, user: RequestUser, request: PendingRequest) -> tuple[bool, int | None]:
        """Forget the request and delete its answer's stream; a user with nothing left
        pending (and no other step queued) is forgotten too. False: the lease is not
        this relay's (the user is forgotten). With it, the chat message that got the
        request's 👀, if any."""
        async with user.lock:
            reply: Any = await self._done(
                keys=[
                    keyspace.lease(user.partition),
                    keyspace.po_queue(user.user_id),
                    keyspace.po_requests(user.partition),
                    keyspace.po_users(user.partition),
                    po_service.response_stream(request.request_id),
                    keyspace.typing(user.partition),
                    keys.pending(user.user_id),
                    keys.cancelled(user.user_id),
                    keyspace.cancelling(user.partition),
                    keys.acks(user.user_id),
                ],
                args=[self._identity, user.user_id, request.request_id],
            )
            if not int(reply[0]):
                self.forget(user)  # under the lock: a load waiting on it starts over
                return False, None
            # No read back: every request of an owned partition is in memory (added as
            # forwarded, or loaded at a takeover or a re-read), each under this lock.
            user.requests = [r for r in user.requests if r is not request]
            if not user.requests and len(user.steps) <= 1 and self.current(user):
                del self.users[user.user_id]
            ack = text(reply[1])
            return True, int(ack) if ack else None


def now_ms() -> int:
    return int(time.time() * 1000)
