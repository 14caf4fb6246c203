"""Access requests, the admins' side: the cards' "✅ Одобрить" and "❌ Отклонить".

Their data: ``ar1:y:{rid}`` and ``ar1:n:{rid}``.

The notifier sends the cards; their presses come here. Each press is
checked at press time, in this order, and refused (a short callback
answer, an ``access_refused`` audit entry, no API write) at the first
failure:

1. the data: ``ar1:y:`` or ``ar1:n:`` and a request id of the shape
   ``new_request_id`` makes (``forged``);
2. the presser is an admin NOW: in ``ADMIN_TELEGRAM_IDS``, or the API says
   ``is_admin`` when asked afresh at this press, past the auth cache
   (``not_admin``; an admin removed since the card went out fails here; a
   presser removed from the API altogether never gets past the auth
   middleware). The API not answering refuses the press as "unavailable";
3. the request exists (``unknown``);
4. nobody decided it yet (``decided``: "Уже решено: ✅ Ада, 14:02"), and no
   other approval is under way (``busy``). A replayed press lands here.

Approve: claim (pending -> approving, ``AccessStore.claim``), create the
user through the API as the presser (``X-Telegram-ID``; a 409 counts as
done), finish (approved, the outcome and the audit entry in one script),
and drop the new user from this replica's auth cache, so their next update
is served as a known user's at once (other replicas ask the API again
within ``AUTH_CACHE_UNKNOWN_TTL_S``). The API failing releases the claim:
the request is pending again and the admin is asked to press again.
Deny: one script (``AccessStore.deny``). The stranger and every card hear
of it from the notifier, through ``bot:access:outcomes``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final

from aiogram import Router
from aiogram.filters import Filter
from aiogram.types import CallbackQuery
from redis.exceptions import RedisError

from services.ingress.access import DECISION_PREFIX, AccessDesk
from services.ingress.access_store import MISSING, Claim, Decided, now_ms
from services.ingress.callbacks import answer_query
from shared.access import records
from shared.access.records import AccessRequest, AuditEntry
from shared.api import ApiClient, ApiError
from shared.log import get_logger
from shared.schemas import NewUser
from shared.texts import Texts

log = get_logger(__name__)

RID_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]{16}")
"""What ``records.new_request_id`` makes: 16 URL-safe characters."""


class DecisionPress(Filter):
    """Any ``ar1:`` data but the stranger's button: a card's press, or a forged one."""

    async def __call__(self, query: CallbackQuery) -> bool:
        data = query.data or ""
        return data.startswith(DECISION_PREFIX) and data != records.ASK_DATA


def router() -> Router:
    """A fresh router (a router joins one dispatcher only; tests build several)."""
    admins = Router(name="access_admin")
    admins.callback_query.register(decide, DecisionPress())
    return admins


def parse(data: str | None) -> tuple[bool, str] | None:
    """``(approve?, rid)`` from a card's data; None when it is not one."""
    data = data or ""
    for prefix, approve in ((records.APPROVE_PREFIX, True), (records.DENY_PREFIX, False)):
        if data.startswith(prefix):
            rid = data.removeprefix(prefix)
            return (approve, rid) if RID_PATTERN.fullmatch(rid) else None
    return None


async def decide(query: CallbackQuery, access: AccessDesk, api: ApiClient, texts: Texts) -> None:
    presser = query.from_user.id
    parsed = parse(query.data)
    if parsed is None:
        await _refuse(query, access, presser, "", "forged", texts.access_unknown_request)
        return
    approve, rid = parsed
    try:
        admin = presser in access.admin_ids or await _api_admin(api, presser)
    except ApiError as exc:
        log.warning("access_admin_check_failed", by=presser, rid=rid, error=type(exc).__name__)
        await answer_query(query, texts.service_unavailable)
        return
    try:
        if not admin:
            await _refuse(query, access, presser, rid, "not_admin", texts.access_not_admin)
            return
        request = await access.store.request(rid)
        if request is None:
            await _already(query, access, presser, rid, MISSING, texts)
        elif approve:
            await _approve(query, access, api, request, texts)
        else:
            await _deny(query, access, request, texts)
    except RedisError as exc:
        # A claim taken before this runs out by itself; nothing else was half done.
        log.warning("access_decision_failed", by=presser, rid=rid, error=type(exc).__name__)
        await answer_query(query, texts.service_unavailable)


async def _api_admin(api: ApiClient, telegram_id: int) -> bool:
    user = await api.find_user(telegram_id)
    return user is not None and user.is_admin


async def _approve(
    query: CallbackQuery, access: AccessDesk, api: ApiClient, request: AccessRequest, texts: Texts
) -> None:
    admin, name = query.from_user.id, query.from_user.first_name
    claim = await access.store.claim(request.rid, admin, name)
    if not isinstance(claim, Claim):
        await _already(query, access, admin, request.rid, claim, texts)
        return
    new = NewUser(
        telegram_id=request.telegram_id,
        username=request.username or None,
        first_name=request.first_name or None,
        last_name=request.last_name or None,
    )
    try:
        await api.create_user(new, by=admin)
    except ApiError as exc:
        released = await access.store.release(request.rid, claim)
        log.warning(
            "access_approve_failed",
            by=admin,
            rid=request.rid,
            telegram_id=request.telegram_id,
            error=type(exc).__name__,
            released=released,
        )
        await access.store.audit(
            AuditEntry(
                event="access_approve_failed",
                at_ms=now_ms(),
                by=admin,
                rid=request.rid,
                telegram_id=request.telegram_id,
                reason=type(exc).__name__,
            )
        )
        await answer_query(query, texts.access_approve_failed)
        return
    # Known to the API now: this replica stops serving them as a stranger at once.
    access.directory.forget(request.telegram_id)
    lost = await access.store.finish(claim, admin, name, access.keyboard(request.language))
    if lost is not None:
        # The claim ran out while the API answered, and another press took the request.
        await _already(query, access, admin, request.rid, lost, texts)
        return
    log.info("access_approved", by=admin, rid=request.rid, telegram_id=request.telegram_id)
    await answer_query(query, texts.access_decision_approved)


async def _deny(
    query: CallbackQuery, access: AccessDesk, request: AccessRequest, texts: Texts
) -> None:
    admin, name = query.from_user.id, query.from_user.first_name
    decided = await access.store.deny(request, admin, name)
    if decided is not None:
        await _already(query, access, admin, request.rid, decided, texts)
        return
    log.info("access_denied", by=admin, rid=request.rid, telegram_id=request.telegram_id)
    await answer_query(query, texts.access_decision_denied)


async def _already(
    query: CallbackQuery,
    access: AccessDesk,
    admin: int,
    rid: str,
    decided: Decided,
    texts: Texts,
) -> None:
    """A press on a request that is not open for it: say who has it, change nothing."""
    if decided.status == "missing":
        reason, answer = "unknown", texts.access_unknown_request
    elif decided.status == "approving":
        reason, answer = "busy", texts.access_in_progress.format(name=decided.name)
    elif decided.status in texts.access_outcome:
        reason = "decided"
        outcome = texts.access_outcome[decided.status].format(
            name=decided.name, time=clock(decided.decided_ms, texts.access_decision_time)
        )
        answer = texts.access_decided.format(outcome=outcome)
    else:
        # Pending again: another press's API write failed after this one's claim ran out.
        reason, answer = "released", texts.access_approve_failed
    await _refuse(query, access, admin, rid, reason, answer)


async def _refuse(
    query: CallbackQuery, access: AccessDesk, presser: int, rid: str, reason: str, answer: str
) -> None:
    log.info("access_refused", by=presser, rid=rid or None, reason=reason)
    try:
        await access.store.audit(
            AuditEntry(event="access_refused", at_ms=now_ms(), by=presser, rid=rid, reason=reason)
        )
    except RedisError as exc:
        log.warning("access_audit_failed", error=type(exc).__name__)
    await answer_query(query, answer)


def clock(ms: int, form: str) -> str:
    """``14:02`` (``form``: the catalogue's ``access_decision_time``): a decision's time, UTC."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime(form)
