"""The admins' cards: every queued access request to every admin, once, within the hourly cap.

``AccessCards.run`` takes requests from ``bot:access:queue`` oldest first
(``access_claim.lua``: one notifier per request, any number of notifiers)
and sends every admin one card (``access_words.card_text``, plain text,
"✅ Одобрить" / "❌ Отклонить"). At most ``ACCESS_REQUESTS_PER_HOUR``
requests are taken per rolling ``ACCESS_REQUESTS_WINDOW_S`` (an hour) in
all, counted in ``bot:access:sent``; past that they wait, in order, until
the window frees a place. Each card is a keyed send
(``access-card:{rid}:{admin}``), so a crash, a retry or a second notifier
never sends one twice; its message id goes into the request's ``cards``.

A claim lives ``NOTIFIER_RETRY_AFTER_S`` and is renewed every third of
that while the cards go out. Once every admin is done (delivered, or
refused for good: blocked, chat not found) and the API's admins are known,
the request leaves the queue (``access_cards_done.lua``, audited
``access_cards_sent``). Otherwise the claim is left to expire: after
``NOTIFIER_RETRY_AFTER_S`` any notifier takes it again and sends only the
missing cards, without counting it against the cap twice. A request
decided while its cards went out gets no more cards, and each card sent
meanwhile is edited to its outcome here (the outcome path edits those it
found). Why each rule: docs/ARCHITECTURE.md ("Access requests: cards,
outcomes, expiry").
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from typing import Final

from redis.exceptions import RedisError

from services.notifier.access_outcomes import CardEditor
from services.notifier.access_store import (
    AccessStore,
    Claimed,
    Decided,
    Full,
    MalformedRequest,
    decided,
    decode_request,
)
from services.notifier.access_words import card_buttons, card_text
from services.notifier.admins import Admins
from services.notifier.broadcast import undeliverable
from shared.access.records import AccessRequest, AuditEntry
from shared.log import get_logger
from shared.sending.sender import Sender
from shared.stopping import pause
from shared.texts import Texts

log = get_logger(__name__)

POLL_S: Final = 1.0
"""How often an idle notifier looks at the queue (new requests wait at most this long)."""
ERROR_PAUSE_S: Final = 5.0


def card_key(rid: str, admin: int) -> str:
    """The send-once key of one admin's card."""
    return f"access-card:{rid}:{admin}"


class AccessCards:
    """Sends the admins' cards, request by request; see the module docstring."""

    def __init__(
        self,
        store: AccessStore,
        sender: Sender,
        admins: Admins,
        editor: CardEditor,
        texts: Texts,
        *,
        cap: int,
        window_s: float,
        hold_s: float,
        consumer: str,
    ) -> None:
        self._store = store
        self._sender = sender
        self._admins = admins
        self._editor = editor
        self._texts = texts
        self._cap = cap
        self._window_s = window_s
        self._hold_s = hold_s
        self._consumer = consumer

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: one request at a time, as soon as one is due; errors logged."""
        while not stop.is_set():
            try:
                wait_s = await self.turn()
            except RedisError as exc:
                log.warning("access_cards_redis_error", error=type(exc).__name__)
                wait_s = ERROR_PAUSE_S
            except Exception:
                # A bug must not stop the notifier's other work; the request is retried.
                log.exception("access_cards_failed")
                wait_s = ERROR_PAUSE_S
            if wait_s:
                await pause(stop, wait_s)

    async def turn(self) -> float:
        """Claim and send one request; how long to wait before the next turn (0: at once)."""
        token = secrets.token_hex(8)
        claimed = await self._store.claim(
            token, window_s=self._window_s, cap=self._cap, hold_s=self._hold_s
        )
        if claimed is None:
            return POLL_S
        if isinstance(claimed, Full):
            log.info("access_cards_capped", cap=self._cap, wait_s=round(claimed.wait_s, 3))
            return min(claimed.wait_s, POLL_S * 60)
        try:
            request = decode_request(claimed.fields)
        except MalformedRequest as exc:
            log.error("access_request_malformed", rid=claimed.rid, error=str(exc))
            await self._store.drop(claimed.rid)
            return 0
        async with self._holding(claimed.rid, token):
            await self._send(claimed, request, token)
        return 0

    async def _send(self, claimed: Claimed, request: AccessRequest, token: str) -> None:
        outcome = decided(
            request.status,
            str(request.decided_by),
            request.decided_by_name,
            str(request.decided_ms),
        )
        admins = await self._admins.current()
        done = await asyncio.gather(
            *(self._card(request, admin, outcome) for admin in admins.telegram_ids)
        )
        missing = len(done) - sum(done)
        if missing or not admins.complete:
            # Left to expire: the retry (any notifier) sends only the missing cards.
            await self._store.hold(claimed.rid, token, self._hold_s)
            log.warning(
                "access_cards_incomplete",
                rid=claimed.rid,
                missing=missing,
                admins_known=admins.complete,
                retry_in_s=self._hold_s,
            )
            return
        finished = await self._store.done(
            claimed.rid,
            token,
            AuditEntry(
                event="access_cards_sent",
                at_ms=0,  # set from Redis's clock as it is written
                rid=claimed.rid,
                telegram_id=request.telegram_id,
                process=self._consumer,
                details={"admins": len(done), "status": request.status},
            ),
        )
        log.info(
            "access_cards_sent",
            rid=claimed.rid,
            telegram_id=request.telegram_id,
            admins=len(done),
            resumed=claimed.resumed,
            status=request.status,
            claim_kept=finished,
        )

    async def _card(self, request: AccessRequest, admin: int, outcome: Decided | None) -> bool:
        """Whether this admin is done with the request's card."""
        key = card_key(request.rid, admin)
        if outcome is not None:
            # Decided before its cards were all out: none is sent now, and one an
            # earlier try sent (its record maybe lost in a crash) shows the outcome.
            sent_before = await self._sender.sent.load(key)
            if not sent_before:
                return True
            message_id = sent_before[max(sent_before)]
            return await self._recorded(request, admin, message_id)
        sent = await self._sender.send(
            admin,
            card_text(request, self._texts),
            key=key,
            markdown=False,
            reply_markup=card_buttons(request.rid, self._texts),
        )
        if sent.delivered:
            return await self._recorded(request, admin, sent.message_ids[-1])
        reason = undeliverable(sent)
        if reason is None:
            return False
        log.warning(
            "access_card_undeliverable",
            rid=request.rid,
            telegram_id=admin,
            reason=reason,
            error=sent.error,
        )
        return True

    async def _recorded(self, request: AccessRequest, admin: int, message_id: int) -> bool:
        """Note the card in the request; if it was decided meanwhile, show the outcome on it."""
        outcome = await self._store.record_card(request.rid, admin, message_id)
        if outcome is None:
            return True
        return await self._editor.edit(request, admin, message_id, outcome)

    @contextlib.asynccontextmanager
    async def _holding(self, rid: str, token: str) -> AsyncIterator[None]:
        """Renew the claim every third of its time while the cards go out."""

        async def renew() -> None:
            while True:
                await asyncio.sleep(self._hold_s / 3)
                try:
                    if not await self._store.hold(rid, token, self._hold_s):
                        log.warning("access_cards_claim_lost", rid=rid)
                        return
                except RedisError as exc:
                    log.warning("access_cards_claim_renew_failed", error=type(exc).__name__)

        task = asyncio.create_task(renew())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
