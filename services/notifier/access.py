"""Access requests in the notifier (issue 17): the parts, built from the settings.

With ``ACCESS_REQUESTS`` on, the notifier runs three more things beside its
stream readers: ``access_cards.AccessCards`` (the admins' cards, within the
hourly cap), a ``GroupReader`` of ``bot:access:outcomes`` handled by
``access_outcomes.AccessOutcomes`` (the stranger told, the cards edited) and
``access_expiry.AccessExpiry`` (requests nobody decided in time). Off, it
runs none of them and touches none of their keys. The ingress creates and
decides the requests (``shared.access``). Design: docs/ARCHITECTURE.md
("Access requests: cards, outcomes, expiry").
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import redis.asyncio as aioredis

from services.notifier.access_cards import AccessCards
from services.notifier.access_expiry import AccessExpiry
from services.notifier.access_outcomes import AccessOutcomes, CardEditor
from services.notifier.access_store import AccessStore
from services.notifier.admins import Admins
from services.notifier.groups import GroupReader
from services.notifier.settings import NotifierSettings
from shared.access.records import OUTCOMES, OUTCOMES_GROUP, AccessOutcome
from shared.health import Heartbeat
from shared.metrics import Metrics
from shared.sending.sender import Sender
from shared.streams import entry_decoder
from shared.texts import Texts, for_language

RETRY_FOREVER = 1_000_000
"""Only malformed outcomes are dead-lettered; one waiting for Telegram is retried as long
as it takes (every failure that cannot pass is counted as done instead)."""


class AccessRequests:
    """The notifier's access-request work: ``reader`` (outcomes) and ``loops`` (cards, expiry)."""

    def __init__(
        self,
        settings: NotifierSettings,
        redis: aioredis.Redis,
        sender: Sender,
        admins: Admins,
        *,
        heartbeat: Heartbeat,
        metrics: Metrics,
        texts: Texts | None = None,
    ) -> None:
        # The admins' cards in DEFAULT_LANGUAGE (no cheap way to know an admin's own).
        texts = texts or for_language(None, settings.default_language)
        store = AccessStore(redis)
        editor = CardEditor(sender, texts)
        self.cards = AccessCards(
            store,
            sender,
            admins,
            editor,
            texts,
            cap=settings.access_requests_per_hour,
            window_s=settings.access_requests_window_s,
            hold_s=settings.notifier_retry_after_s,
            consumer=settings.notifier_name,
        )
        self.expiry = AccessExpiry(store, settings.access_request_ttl_s)
        self.outcomes = AccessOutcomes(store, sender, editor, texts)
        self.reader: GroupReader[AccessOutcome] = GroupReader(
            settings,
            redis,
            stream=OUTCOMES,
            group=OUTCOMES_GROUP,
            kind="access_outcomes",
            decode=entry_decoder(AccessOutcome),
            handler=self.outcomes.handle,
            max_deliveries=RETRY_FOREVER,
            start_id=_from_the_start,
            # Every outcome is told, however old: each is a stranger waiting for an answer.
            expired=None,
            heartbeat=heartbeat,
            metrics=metrics,
        )

    def loops(self) -> list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]]:
        """What runs beside the readers until stop: the cards and the expiry sweep."""
        return [self.cards.run, self.expiry.run]


async def _from_the_start() -> str:
    return "0"
