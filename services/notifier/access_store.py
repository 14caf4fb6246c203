"""The notifier's Redis side of access requests: claims, cards, expiry and audit.

The keys and records are ``shared.access.records`` (shared with the
ingress). One key is the notifier's own: ``bot:access:cards-claim:{rid}``
(:func:`claim_key`), the token of the notifier sending that request's cards,
with a TTL: while it lives no other notifier takes the request; once it
expires (a crash, or a failure left to wait for its retry) any notifier
does. Every step that must not be split is one Lua script beside this
module. Times are Redis's (``TIME`` inside the scripts), so notifiers on
hosts whose clocks differ agree on the cap and on expiry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgspec
import redis.asyncio as aioredis

from shared.access.records import (
    AUDIT,
    AUDIT_MAXLEN,
    OPEN,
    OUTCOMES,
    PREFIX,
    QUEUE,
    SENT,
    AccessRequest,
    AuditEntry,
    Decision,
    encoder,
    request_key,
)
from shared.connections import text, texts
from shared.log import get_logger
from shared.scripts import register

log = get_logger(__name__)

SCAN: Final = 100
"""Queued (or open) requests one script looks at, at most."""
FINAL: Final[frozenset[str]] = frozenset({"approved", "denied", "expired"})


def claim_key(rid: str) -> str:
    """string: the token of the notifier sending this request's cards (with a TTL)."""
    return f"{PREFIX}cards-claim:{rid}"


class MalformedRequest(Exception):
    """The request's hash cannot be read as an ``AccessRequest``."""


@dataclass(frozen=True)
class Claimed:
    rid: str
    fields: dict[str, str]
    """The request hash as it was when claimed (decode with :func:`decode_request`)."""
    resumed: bool
    """Taken before (a crash, a failure): it does not count against the cap again."""


@dataclass(frozen=True)
class Full:
    wait_s: float
    """The hourly cap is reached: how long until the window frees a place."""


@dataclass(frozen=True)
class Decided:
    """A request's decision as its hash says, when it has one."""

    decision: Decision
    decided_by: int
    decided_by_name: str
    decided_ms: int


def decode_request(fields: dict[str, str]) -> AccessRequest:
    """The hash's fields (strings) as an ``AccessRequest``; ``MalformedRequest`` if they are not."""
    try:
        return msgspec.convert(fields, AccessRequest, strict=False)
    except msgspec.ValidationError as exc:
        raise MalformedRequest(str(exc)) from exc


def decided(status: str, by: str, name: str, ms: str) -> Decided | None:
    """The decision of a hash whose ``status`` is final, else None."""
    if status not in FINAL:
        return None
    return Decided(
        decision=status,  # type: ignore[arg-type]  # checked: one of FINAL
        decided_by=_int(by),
        decided_by_name=name,
        decided_ms=_int(ms),
    )


class AccessStore:
    """The scripts and reads the notifier's access-request work needs."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._claim = register(redis, __file__, "access_claim.lua")
        self._hold = register(redis, __file__, "access_claim_hold.lua")
        self._done = register(redis, __file__, "access_cards_done.lua")
        self._record = register(redis, __file__, "access_card_record.lua")
        self._expire = register(redis, __file__, "access_expire.lua")

    async def claim(
        self, token: str, *, window_s: float, cap: int, hold_s: float
    ) -> Claimed | Full | None:
        """The oldest request whose cards are due, now this notifier's; None: nothing due."""
        reply = texts(
            await self._claim(
                keys=[QUEUE, SENT],
                args=[PREFIX, _ms(window_s), cap, _ms(hold_s), token, SCAN],
            )
        )
        if reply[0] == "wait":
            return Full(int(reply[1]) / 1000)
        if reply[0] != "claimed":
            return None
        pairs = reply[3:]
        fields = dict(zip(pairs[::2], pairs[1::2], strict=True))
        return Claimed(rid=reply[1], fields=fields, resumed=reply[2] == "resumed")

    async def hold(self, rid: str, token: str, hold_s: float) -> bool:
        """Keep this notifier's claim for ``hold_s`` from now; False: it is not ours any more."""
        return bool(await self._hold(keys=[claim_key(rid)], args=[token, _ms(hold_s)]))

    async def done(self, rid: str, token: str, audit: AuditEntry) -> bool:
        """Every admin is done: the request leaves the queue, audited; False: claim lost."""
        audit.at_ms = await self._now_ms()
        return bool(
            await self._done(
                keys=[QUEUE, claim_key(rid), AUDIT],
                args=[rid, token, AUDIT_MAXLEN, encoder.encode(audit)],
            )
        )

    async def drop(self, rid: str) -> None:
        """A request that cannot be read leaves the queue (logged by the caller)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(QUEUE, rid)
            pipe.delete(claim_key(rid))
            await pipe.execute()

    async def record_card(self, rid: str, admin: int, message_id: int) -> Decided | None:
        """Note the admin's card in the request's ``cards``; the decision, if made meanwhile."""
        reply: Sequence[Any] = await self._record(keys=[request_key(rid)], args=[admin, message_id])
        if not reply:
            return None
        status, by, name, ms = (text(item) if item is not None else "" for item in reply)
        return decided(status, by, name, ms)

    async def request(self, rid: str) -> AccessRequest | None:
        """The request's record; None when it is gone. ``MalformedRequest`` if unreadable."""
        raw: dict[bytes | str, bytes | str] = await self.redis.hgetall(request_key(rid))
        if not raw:
            return None
        return decode_request({text(k): text(v) for k, v in raw.items()})

    async def expire(self, ttl_s: float) -> tuple[int, float | None]:
        """Expire what is due; (how many, seconds until the next is due or None)."""
        count, next_ms = await self._expire(
            keys=[OPEN, QUEUE, OUTCOMES, AUDIT], args=[PREFIX, _ms(ttl_s), AUDIT_MAXLEN, SCAN]
        )
        return int(count), None if int(next_ms) < 0 else int(next_ms) / 1000

    async def _now_ms(self) -> int:
        seconds, microseconds = await self.redis.time()
        return int(seconds) * 1000 + int(microseconds) // 1000

    async def audit(self, entry: AuditEntry) -> None:
        """Append ``entry`` to ``bot:audit`` (capped), timed by Redis's clock."""
        entry.at_ms = await self._now_ms()
        fields = {"data": encoder.encode(entry)}
        await self.redis.xadd(AUDIT, fields, maxlen=AUDIT_MAXLEN, approximate=True)  # type: ignore[arg-type]


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return 0
