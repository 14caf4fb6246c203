"""``po-service``: the PO service's own messages (``po:proactive``), and the admins' alerts.

``ProactiveDelivery`` handles one ``po:proactive`` entry of the group
``tg-bot-proactive``: the chat's user still known to the API, the text is
sent once (key ``proactive:{entry id}``, Markdown like a PO reply), and the
entry acknowledged once Telegram took it. Anything else that can pass (the
API or Telegram failing, a 400 refusal) raises: the entry stays pending and
comes back, and its third delivery (Redis's count, kept across restarts) is
the last: the stream consumer moves it to ``po:proactive:dead``.

``ProactiveAlerts`` reads ``po:proactive:dead`` with a group of its own
(``tg-bot-proactive-alerts``) and tells every admin once about each entry
there, so an alert survives a notifier dying right after the dead letter.
Why each rule: docs/ARCHITECTURE.md (Notifier, "PO-initiated messages").
"""

from __future__ import annotations

import structlog

from services.notifier.broadcast import AdminBroadcast
from shared.api import ApiClient
from shared.log import get_logger
from shared.metrics import Metrics, entry_age_s
from shared.proactive import ProactiveMessage
from shared.sending.results import Outcome, SendResult
from shared.sending.sender import Sender
from shared.streams import DeadLetter
from shared.texts import Texts

log = get_logger(__name__)

MAX_DELIVERIES = 3
"""The platform's rule (CONTRACTS.md): given up after its third delivery."""
ALERT_TEXT_CHARS = 300
"""How much of the message an alert quotes."""
ALERT_FIELD_CHARS = 100
ALERT_ERROR_CHARS = 300
UNKNOWN = "—"


class NotDelivered(Exception):
    """Telegram did not take the message this time; the entry stays pending."""


def send_key(entry_id: str) -> str:
    return f"proactive:{entry_id}"


class ProactiveDelivery:
    """The handler of ``po:proactive`` entries; see the module docstring."""

    def __init__(self, sender: Sender, api: ApiClient, metrics: Metrics) -> None:
        self._sender = sender
        self._api = api
        self._metrics = metrics

    async def handle(self, entry_id: str, message: ProactiveMessage) -> None:
        # Every log line about this message, the sender's included, names its entry.
        with structlog.contextvars.bound_contextvars(entry_id=entry_id):
            await self._handle(entry_id, message)

    async def _handle(self, entry_id: str, message: ProactiveMessage) -> None:
        chat_id = message.telegram_chat_id
        # A private chat's id is its user's Telegram id. An API error propagates: the
        # entry stays pending and is retried, and that counts as one of its deliveries.
        if await self._api.find_user(chat_id) is None:
            self._metrics.proactive_dropped("chat_unknown")
            log.warning("proactive_chat_unknown", chat_id=chat_id)
            return
        log.debug("proactive_text", chat_id=chat_id, text=message.text)
        sent = await self._sender.send(chat_id, message.text, key=send_key(entry_id))
        if sent.delivered:
            self._delivered(entry_id, chat_id, sent)
            return
        if sent.outcome is Outcome.BLOCKED:
            # The user's choice; no retry or admin can change it.
            self._metrics.proactive_dropped("blocked")
            log.warning("proactive_chat_blocked", chat_id=chat_id)
            return
        raise NotDelivered(f"{sent.outcome}: {sent.error}")

    def _delivered(self, entry_id: str, chat_id: int, sent: SendResult) -> None:
        if sent.resumed_at < len(sent.message_ids):
            self._metrics.reply_delivered()  # not for one sent by an earlier attempt
        self._metrics.observe_delivery_latency(entry_age_s(entry_id))
        log.info("proactive_delivered", chat_id=chat_id, parts=len(sent.message_ids))


class ProactiveAlerts:
    """The handler of ``po:proactive:dead`` entries: every admin told once about each."""

    def __init__(self, broadcast: AdminBroadcast, texts: Texts) -> None:
        self._broadcast = broadcast
        self._texts = texts

    async def handle(self, entry_id: str, letter: DeadLetter) -> None:
        admins = await self._broadcast.tell(
            entry_id, f"proactive-alert:{entry_id}", alert_text(letter, self._texts)
        )
        log.info(
            "proactive_alert_sent",
            entry_id=entry_id,
            given_up_entry_id=letter.entry_id,
            reason=letter.reason,
            admins=admins,
        )


def alert_text(letter: DeadLetter, texts: Texts) -> str:
    """The admins' alert about a given-up ``po:proactive`` entry, plain text."""
    fields = letter.fields
    event = fields.get("event", "").strip()
    wording = texts.proactive_alert_reason.get(letter.reason, f"{letter.reason} ({{error}})")
    reason = wording.format(
        deliveries=letter.deliveries, error=_cut(letter.error.strip(), ALERT_ERROR_CHARS)
    )
    return texts.proactive_alert.format(
        chat=_cut(fields.get("telegram_chat_id", "").strip(), ALERT_FIELD_CHARS) or UNKNOWN,
        event=texts.proactive_alert_event.format(event=_cut(event, ALERT_FIELD_CHARS))
        if event
        else "",
        text=_cut(fields.get("text", "").strip(), ALERT_TEXT_CHARS) or UNKNOWN,
        reason=reason,
    )


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
