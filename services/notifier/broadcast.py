"""One text to every admin, at most once each: provisioning results and PO alerts alike.

Each admin's send has a key of its own (``{key}:{admin}``), so a retry of
the same entry (a crash, an outage, another replica taking it over) sends
only to the admins still missing it. ``AdminBroadcast.tell`` raises
``DeliveryIncomplete`` while some admin may still get it later, or while the
API's admins are unknown: the caller's entry then stays pending and is
retried. An admin is done once Telegram took the message, or refused it for
good for that chat (403, or a 400 such as "chat not found"): logged and
counted, never retried forever. Why each rule: docs/ARCHITECTURE.md
(Notifier).
"""

from __future__ import annotations

from services.notifier.admins import Admins
from shared.log import get_logger
from shared.metrics import Metrics, UndeliverableReason
from shared.sending.results import Outcome, SendResult
from shared.sending.sender import Sender

log = get_logger(__name__)


class DeliveryIncomplete(Exception):
    """Some admin does not have the message yet; the entry stays pending for a retry."""


class AdminBroadcast:
    """Tells every admin (API admins plus ``ADMIN_TELEGRAM_IDS``); see the module docstring."""

    def __init__(self, sender: Sender, admins: Admins, metrics: Metrics) -> None:
        self._sender = sender
        self._admins = admins
        self._metrics = metrics

    async def tell(self, entry_id: str, key: str, text: str) -> int:
        """Send ``text`` to each admin under ``{key}:{admin}``; the number of admins.

        Plain text: names, errors and quoted texts are shown exactly as written.
        """
        admins = await self._admins.current()
        missing = [
            telegram_id
            for telegram_id in admins.telegram_ids
            if not await self._deliver(entry_id, telegram_id, f"{key}:{telegram_id}", text)
        ]
        if missing or not admins.complete:
            raise DeliveryIncomplete(
                f"{len(missing)} admins failed; API admins known: {admins.complete}"
            )
        return len(admins.telegram_ids)

    async def _deliver(self, entry_id: str, telegram_id: int, key: str, text: str) -> bool:
        """Whether this admin is done with the message (delivered, or never deliverable)."""
        sent = await self._sender.send(telegram_id, text, key=key, markdown=False)
        if sent.delivered:
            if sent.resumed_at < len(sent.message_ids):
                self._metrics.reply_delivered()  # not for one sent by an earlier attempt
            return True
        reason = undeliverable(sent)
        if reason is None:
            return False
        self._metrics.notification_undeliverable(reason)
        log.warning(
            "admin_unreachable",
            entry_id=entry_id,
            telegram_id=telegram_id,
            reason=reason,
            error=sent.error,
        )
        return True


_BOT_REFUSED = frozenset({401, 404})
"""Telegram's error codes when it refused the bot itself, not the chat: 401 (the token)
or 404 (the API server). Every chat would be refused alike: keep the entry."""


def undeliverable(sent: SendResult) -> UndeliverableReason | None:
    """Why this chat can never get the message, or None when a later retry may work."""
    if sent.outcome is Outcome.BLOCKED:
        return "blocked"
    if sent.outcome is not Outcome.FAILED or sent.transient:
        return None
    if sent.error_code in _BOT_REFUSED:
        return None
    return "rejected"
