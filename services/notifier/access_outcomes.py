"""Outcomes of access requests (``bot:access:outcomes``): the stranger told, the cards edited.

``AccessOutcomes.handle`` handles one ``AccessOutcome`` entry of the group
``tg-bot-access`` (any number of notifiers; acknowledged only once done,
retried after ``NOTIFIER_RETRY_AFTER_S`` otherwise, malformed entries
dead-lettered to ``bot:access:outcomes:dead``):

1. The stranger is told once (key ``access-outcome:{rid}``): approved,
   "Доступ открыт" with the quick-action keyboard the entry carries; denied,
   a polite refusal; expired, a short note that they may ask again (their
   open-request key is gone, so their next message offers the button).
   A stranger who blocked the bot, or a chat Telegram refuses for good, is
   done (logged); anything that may pass raises, and the entry is retried.
2. Every card (the request's ``cards``: admin -> message id) is edited to
   the card plus its outcome line ("✅ Одобрено: Ада, 05.12.2026 14:02 UTC",
   "❌ Отклонено: …", "⌛ Запрос истёк"), buttons removed. Telegram's "message
   is not modified" (a retry) and refusals for good (the message or chat
   gone) count as done.
3. Audited (``access_outcome_delivered``) and logged at INFO, no text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import structlog

from services.notifier.access_store import AccessStore, Decided, MalformedRequest
from services.notifier.access_words import decided_card, stranger_notice
from services.notifier.broadcast import undeliverable
from shared.access.records import AccessOutcome, AccessRequest, AuditEntry
from shared.log import get_logger
from shared.sending.sender import Sender
from shared.texts import Texts, for_language

log = get_logger(__name__)


class NotDone(Exception):
    """Telegram did not take a notice or an edit this time; the entry stays pending."""


def notice_key(rid: str) -> str:
    """The send-once key of the stranger's notice about ``rid``'s outcome."""
    return f"access-outcome:{rid}"


class CardEditor:
    """Edits one admin's card to show the request's outcome, buttons removed."""

    def __init__(self, sender: Sender, texts: Texts) -> None:
        self._sender = sender
        self._texts = texts

    async def edit(
        self, request: AccessRequest | None, admin: int, message_id: int, outcome: Decided
    ) -> bool:
        """Whether the card is done: shows the outcome, or can never be edited."""
        text = decided_card(
            request,
            outcome.decision,
            outcome.decided_by,
            outcome.decided_by_name,
            outcome.decided_ms,
            self._texts,
        )
        edited = await self._sender.edit(admin, message_id, text, markdown=False)
        if edited.delivered:
            return True
        reason = undeliverable(edited)
        if reason is None:
            return False
        # Deleted by the admin, or the chat gone: nothing left to show it on.
        log.info(
            "access_card_not_editable",
            telegram_id=admin,
            message_id=message_id,
            reason=reason,
            error=edited.error,
        )
        return True


class AccessOutcomes:
    """The handler of ``bot:access:outcomes`` entries; see the module docstring."""

    def __init__(
        self, store: AccessStore, sender: Sender, editor: CardEditor, texts: Texts
    ) -> None:
        self._store = store
        self._sender = sender
        self._editor = editor
        self._texts = texts

    async def handle(self, entry_id: str, outcome: AccessOutcome) -> None:
        with structlog.contextvars.bound_contextvars(rid=outcome.rid, entry_id=entry_id):
            told = await self._tell_stranger(outcome)
            cards = await self._edit_cards(outcome)
            await self._store.audit(
                AuditEntry(
                    event="access_outcome_delivered",
                    at_ms=0,  # set from Redis's clock as it is written
                    by=outcome.decided_by,
                    rid=outcome.rid,
                    telegram_id=outcome.telegram_id,
                    details={
                        "decision": outcome.decision,
                        "stranger_told": int(told),
                        "cards": cards,
                    },
                )
            )
            log.info(
                "access_outcome_delivered",
                decision=outcome.decision,
                telegram_id=outcome.telegram_id,
                decided_by=outcome.decided_by,
                stranger_told=told,
                cards=cards,
            )

    async def _stranger_texts(self, outcome: AccessOutcome) -> Texts:
        """The stranger's language: the one their request was made in (the admins' cards
        are in ``DEFAULT_LANGUAGE``); the default when the request cannot be read."""
        try:
            request = await self._store.request(outcome.rid)
        except MalformedRequest:
            request = None
        code = request.language if request is not None else None
        return for_language(code, self._texts.language)

    async def _tell_stranger(self, outcome: AccessOutcome) -> bool:
        """Whether the stranger has the notice (False: they can never get it)."""
        sent = await self._sender.send(
            outcome.chat_id,
            stranger_notice(outcome.decision, await self._stranger_texts(outcome)),
            key=notice_key(outcome.rid),
            markdown=False,
            reply_markup=self._keyboard(outcome),
        )
        if sent.delivered:
            return True
        reason = undeliverable(sent)
        if reason is None:
            raise NotDone(f"notice: {sent.outcome}: {sent.error}")
        log.warning(
            "access_outcome_stranger_unreachable",
            telegram_id=outcome.telegram_id,
            reason=reason,
            error=sent.error,
        )
        return False

    def _keyboard(self, outcome: AccessOutcome) -> Mapping[str, Any] | None:
        if outcome.decision != "approved" or not outcome.keyboard:
            return None
        try:
            markup = json.loads(outcome.keyboard)
        except ValueError:
            markup = None
        if not isinstance(markup, dict):
            log.error("access_outcome_keyboard_malformed")
            return None
        return markup

    async def _edit_cards(self, outcome: AccessOutcome) -> int:
        """Edit every card the request has; how many there are. ``NotDone`` if one failed."""
        try:
            request = await self._store.request(outcome.rid)
        except MalformedRequest as exc:
            log.error("access_request_malformed", error=str(exc))
            return 0
        cards = _cards(request)
        decision = Decided(
            decision=outcome.decision,
            decided_by=outcome.decided_by,
            decided_by_name=outcome.decided_by_name,
            decided_ms=outcome.decided_ms,
        )
        failed = [
            admin
            for admin, message_id in cards.items()
            if not await self._editor.edit(request, admin, message_id, decision)
        ]
        if failed:
            raise NotDone(f"{len(failed)} of {len(cards)} cards not edited")
        return len(cards)


def _cards(request: AccessRequest | None) -> dict[int, int]:
    """The request's cards, admin -> message id; unreadable entries are skipped (logged)."""
    if request is None or not request.cards:
        return {}
    try:
        raw = json.loads(request.cards)
        return {int(admin): int(message_id) for admin, message_id in raw.items()}
    except (ValueError, TypeError, AttributeError):
        log.error("access_cards_malformed")
        return {}
