"""Access requests in Redis, as the ingress writes them: one script per step.

The keys, the request hash and the outcome entry are shared with the
notifier (``shared.access.records``). Here every change of a request is one
Lua script, so two ingress replicas (or two admins) can never both move it:

- ``ask`` (``access_ask.lua``): a stranger's press opens ONE pending request,
  unless they have an open one (nothing changes) or a denial's cooldown runs;
- ``claim`` (``access_claim.lua``): pending -> approving, for ``CLAIM_S`` at
  least, before the API write; another press meanwhile is told who is on it;
- ``release`` (``access_release.lua``): the API write failed: pending again;
- ``finish`` (``access_finish.lua``): approving -> approved, the outcome out;
- ``deny`` (``access_deny.lua``): pending -> denied, the cooldown set, the outcome out.

A claim's ``claim_until_ms`` is its token: ``finish`` and ``release`` act
only on the claim they were given, so an ingress that died between claim
and finish leaves a claim that simply runs out, and the next press takes
the request over (the API's 409 makes the second write harmless).

Times are this process's wall clock in ms; replicas' clocks need to agree
to well under ``CLAIM_S``. Every step that changes something appends an
:class:`AuditEntry` to ``bot:audit`` in the same script; refusals are
appended by :meth:`AccessStore.audit`.
"""

from __future__ import annotations

import time
from typing import Any, Final, Literal

import msgspec
import redis.asyncio as aioredis

from services.ingress.keyboard_sessions import SESSION_S, session_key
from shared.access import records
from shared.access.records import AccessOutcome, AccessRequest, AuditEntry
from shared.connections import text
from shared.log import get_logger
from shared.scripts import register

log = get_logger(__name__)

CLAIM_S: Final = 30.0
"""An approval's claim lasts at least this long (longer with a slow API: ``AccessStore``)."""
KEEP_DECIDED_S: Final = 30 * 24 * 60 * 60
"""A request's hash outlives ``ACCESS_REQUEST_TTL_S`` by this, so a late press on an old
card is still told who decided (then "no such request")."""
FIRST_MESSAGE_TTL_S: Final = 24 * 60 * 60
"""How long a stranger's first message is kept for their request's card."""
REMINDER_S: Final = 60 * 60
"""At most one "still pending" reminder per stranger per this."""

Asked = Literal["created", "pending", "denied"]


def first_message_key(telegram_id: int) -> str:
    """string: the first thing a stranger wrote, trimmed (``FIRST_MESSAGE_TTL_S``)."""
    return f"{records.PREFIX}first:{telegram_id}"


class Decided(msgspec.Struct, frozen=True):
    """A request someone decided already (or is deciding): who and when."""

    status: str
    """``approved``, ``denied``, ``expired``; ``approving`` for a claim under way."""
    name: str
    decided_ms: int


MISSING: Final = Decided("missing", "", 0)
"""No such request (never made, forged, or long gone)."""


class Claim(msgspec.Struct, frozen=True):
    token: str
    request: AccessRequest


_encoder = msgspec.json.Encoder()


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class AccessStore:
    """The ingress's steps on access requests; see the module docstring."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        ttl_s: int,
        cooldown_s: int,
        claim_s: float = CLAIM_S,
        audit_maxlen: int = records.AUDIT_MAXLEN,
    ) -> None:
        self._redis = redis
        self._ttl_s = ttl_s
        self._cooldown_s = cooldown_s
        self._claim_ms = int(claim_s * 1000)
        self._maxlen = audit_maxlen
        self._ask = register(redis, __file__, "access_ask.lua")
        self._claim = register(redis, __file__, "access_claim.lua")
        self._release = register(redis, __file__, "access_release.lua")
        self._finish = register(redis, __file__, "access_finish.lua")
        self._deny = register(redis, __file__, "access_deny.lua")

    # --- the stranger ----------------------------------------------------------------

    async def stranger_state(
        self, telegram_id: int, first_message: str | None
    ) -> Literal["open", "pending", "denied", "keyboard"]:
        """Whether a stranger may ask (``open``), has asked, was denied, or still has the
        quick-action keyboard in their chat (a user just removed); one round trip.

        ``first_message`` (already trimmed) is kept unless one is kept already.
        """
        async with self._redis.pipeline(transaction=False) as pipe:
            if first_message:
                pipe.set(
                    first_message_key(telegram_id), first_message, nx=True, ex=FIRST_MESSAGE_TTL_S
                )
            pipe.exists(records.by_user_key(telegram_id))
            pipe.exists(records.denied_key(telegram_id))
            # A private chat's id is its user's.
            pipe.exists(session_key(telegram_id))
            *_, pending, denied, keyboard = await pipe.execute()
        if pending:
            return "pending"
        if denied:
            return "denied"
        return "keyboard" if keyboard else "open"

    async def keyboard_removed(self, telegram_id: int) -> None:
        """The rejection took the keyboard away: the next one may offer the button."""
        await self._redis.delete(session_key(telegram_id))

    async def remember_first_message(self, telegram_id: int, first_message: str) -> None:
        await self._redis.set(
            first_message_key(telegram_id), first_message, nx=True, ex=FIRST_MESSAGE_TTL_S
        )

    async def ask(self, request: AccessRequest) -> tuple[Asked, str]:
        """Open ``request`` (its ``first_message`` is filled in here); what happened, and the
        rid of the stranger's open request (empty when denied)."""
        fields = msgspec.structs.asdict(request)
        del fields["first_message"]  # from the key the stranger's message was kept in
        flat: list[Any] = []
        for name, value in fields.items():
            flat += [name, value]
        audit = AuditEntry(
            event="access_requested",
            at_ms=request.created_ms,
            by=request.telegram_id,
            rid=request.rid,
            telegram_id=request.telegram_id,
        )
        reply: Any = await self._ask(
            keys=[
                records.by_user_key(request.telegram_id),
                records.denied_key(request.telegram_id),
                records.request_key(request.rid),
                records.QUEUE,
                records.OPEN,
                records.AUDIT,
                first_message_key(request.telegram_id),
            ],
            args=[
                request.rid,
                request.created_ms,
                self._ttl_s,
                self._ttl_s + KEEP_DECIDED_S,
                _encoder.encode(audit),
                self._maxlen,
                *flat,
            ],
        )
        outcome: Asked = text(reply[0])  # type: ignore[assignment]
        return outcome, text(reply[1]) if len(reply) > 1 else ""

    # --- the admins ------------------------------------------------------------------

    async def request(self, rid: str) -> AccessRequest | None:
        """The request ``rid`` as stored; None if there is none (or it cannot be read)."""
        raw: dict[bytes | str, bytes | str] = await self._redis.hgetall(records.request_key(rid))
        if not raw:
            return None
        fields = {text(k): text(v) for k, v in raw.items()}
        try:
            return msgspec.convert(fields, AccessRequest, strict=False)
        except msgspec.ValidationError as exc:
            log.warning("access_request_unreadable", rid=rid, error=str(exc))
            return None

    async def claim(self, rid: str, admin_id: int, admin_name: str) -> Claim | Decided:
        """Take ``rid`` for an approval: a :class:`Claim`, or who has it already."""
        now = now_ms()
        token = str(now + self._claim_ms)
        reply: Any = await self._claim(
            keys=[records.request_key(rid)], args=[now, token, admin_id, admin_name]
        )
        if text(reply[0]) == "claimed":
            request = await self.request(rid)
            return MISSING if request is None else Claim(token, request)
        return _answer(reply)

    async def release(self, rid: str, claim: Claim) -> bool:
        released: int = await self._release(keys=[records.request_key(rid)], args=[claim.token])
        return bool(released)

    async def finish(
        self, claim: Claim, admin_id: int, admin_name: str, keyboard: str
    ) -> Decided | None:
        """approving -> approved; None when done, else who has it now (the claim ran out)."""
        request = claim.request
        decided = now_ms()
        outcome, audit = _decision(request, "approved", admin_id, admin_name, decided, keyboard)
        reply: Any = await self._finish(
            keys=[
                records.request_key(request.rid),
                records.by_user_key(request.telegram_id),
                records.OPEN,
                records.QUEUE,
                records.OUTCOMES,
                records.AUDIT,
                session_key(request.chat_id),
            ],
            args=[
                claim.token,
                decided,
                request.rid,
                _encoder.encode(outcome),
                _encoder.encode(audit),
                self._maxlen,
                SESSION_S,
            ],
        )
        return None if text(reply[0]) == "approved" else _answer(reply)

    async def deny(self, request: AccessRequest, admin_id: int, admin_name: str) -> Decided | None:
        """pending -> denied; None when done, else who decided (or is deciding) already."""
        decided = now_ms()
        outcome, audit = _decision(request, "denied", admin_id, admin_name, decided)
        reply: Any = await self._deny(
            keys=[
                records.request_key(request.rid),
                records.by_user_key(request.telegram_id),
                records.denied_key(request.telegram_id),
                records.OPEN,
                records.QUEUE,
                records.OUTCOMES,
                records.AUDIT,
            ],
            args=[
                decided,
                request.rid,
                self._cooldown_s,
                admin_id,
                admin_name,
                _encoder.encode(outcome),
                _encoder.encode(audit),
                self._maxlen,
            ],
        )
        return None if text(reply[0]) == "denied" else _answer(reply)

    async def audit(self, entry: AuditEntry) -> None:
        """Append ``entry`` to ``bot:audit`` (capped)."""
        await self._redis.xadd(
            records.AUDIT,
            {"data": _encoder.encode(entry)},
            maxlen=self._maxlen,
            approximate=True,
        )


def _decision(
    request: AccessRequest,
    decision: Literal["approved", "denied"],
    admin_id: int,
    admin_name: str,
    decided_ms: int,
    keyboard: str = "",
) -> tuple[AccessOutcome, AuditEntry]:
    """An admin's decision as the outcome the notifier carries and its audit entry."""
    outcome = AccessOutcome(
        rid=request.rid,
        decision=decision,
        telegram_id=request.telegram_id,
        chat_id=request.chat_id,
        decided_by=admin_id,
        decided_by_name=admin_name,
        decided_ms=decided_ms,
        keyboard=keyboard,
    )
    audit = AuditEntry(
        event=f"access_{decision}",
        at_ms=decided_ms,
        by=admin_id,
        rid=request.rid,
        telegram_id=request.telegram_id,
    )
    return outcome, audit


def _answer(reply: Any) -> Decided:
    kind = text(reply[0])
    if kind == "busy":
        return Decided("approving", text(reply[1]), 0)
    if kind in ("decided", "lost") and text(reply[1]):
        return Decided(text(reply[1]), text(reply[2]), int(text(reply[3]) or 0))
    return MISSING
