"""The Redis keys and records of access requests, shared by the ingress and the notifier.

A request is one hash, ``bot:access:req:{rid}``, whose fields are the
:class:`AccessRequest` below (strings, as Redis keeps them). ``rid`` is
unguessable (``new_request_id``): button data carries it, never a Telegram
id someone could edit. Status moves ``pending`` -> ``approving`` (an admin
pressed approve; the API write under way, claimed until ``claim_until_ms``)
-> ``approved``; or ``pending`` -> ``denied``; or ``pending`` -> ``expired``
after ``ACCESS_REQUEST_TTL_S``. Each final step appends an
:class:`AccessOutcome` to ``bot:access:outcomes`` in the same script, for
the notifier to tell the stranger and edit the cards.
"""

from __future__ import annotations

import secrets
from typing import Final, Literal

import msgspec

Status = Literal["pending", "approving", "approved", "denied", "expired"]
Decision = Literal["approved", "denied", "expired"]

PREFIX: Final = "bot:access:"
QUEUE: Final = "bot:access:queue"
"""zset: rid -> request time (ms), of requests whose cards are not sent yet (oldest first)."""
SENT: Final = "bot:access:sent"
"""zset: rid -> when its cards went out (ms): the hourly cap counts the last hour here."""
OPEN: Final = "bot:access:open"
"""zset: rid -> request time (ms), of requests not decided yet (the expiry sweep's list)."""
OUTCOMES: Final = "bot:access:outcomes"
"""Stream: one :class:`AccessOutcome` per decided or expired request (``data`` JSON)."""
OUTCOMES_GROUP: Final = "tg-bot-access"
AUDIT: Final = "bot:audit"
"""Stream, capped at about ``AUDIT_MAXLEN``: every request, decision, refusal and expiry."""
AUDIT_MAXLEN: Final = 100_000

ASK_DATA: Final = "ar1:ask"
"""The stranger's "🙋 Запросить доступ" button (the request is for whoever presses it)."""
APPROVE_PREFIX: Final = "ar1:y:"
DENY_PREFIX: Final = "ar1:n:"
"""Admins' card buttons: ``ar1:y:{rid}`` / ``ar1:n:{rid}``."""


def new_request_id() -> str:
    """16 URL-safe characters (96 random bits): unguessable, and short for callback data."""
    return secrets.token_urlsafe(12)


def request_key(rid: str) -> str:
    return f"{PREFIX}req:{rid}"


def by_user_key(telegram_id: int) -> str:
    """string: the stranger's open request id (TTL ``ACCESS_REQUEST_TTL_S``)."""
    return f"{PREFIX}user:{telegram_id}"


def denied_key(telegram_id: int) -> str:
    """string: exists while a denied stranger may not ask again (``ACCESS_REQUEST_COOLDOWN_S``)."""
    return f"{PREFIX}denied:{telegram_id}"


def reminded_key(telegram_id: int) -> str:
    """string: exists for an hour after the stranger was reminded their request is pending."""
    return f"{PREFIX}reminded:{telegram_id}"


class AccessRequest(msgspec.Struct, kw_only=True):
    """The request hash's fields. Texts as the stranger gave them: show them as plain text."""

    rid: str
    telegram_id: int
    chat_id: int
    first_name: str = ""
    last_name: str = ""
    username: str = ""
    language: str = ""
    first_message: str = ""
    """The first thing they wrote, trimmed (``FIRST_MESSAGE_CHARS``); may be empty."""
    created_ms: int
    status: Status = "pending"
    decided_by: int = 0
    """The admin's Telegram id (0: nobody, or expiry)."""
    decided_by_name: str = ""
    decided_ms: int = 0
    claim_until_ms: int = 0
    """``approving``: the claim's end; past it another press may claim again."""
    cards: str = ""
    """JSON object: admin Telegram id -> the card's message id (written by the notifier)."""


FIRST_MESSAGE_CHARS: Final = 300


class AccessOutcome(msgspec.Struct, kw_only=True):
    """``bot:access:outcomes`` entry: what the notifier carries to the stranger and the cards."""

    rid: str
    decision: Decision
    telegram_id: int
    chat_id: int
    decided_by: int = 0
    decided_by_name: str = ""
    decided_ms: int
    keyboard: str = ""
    """``approved``: the quick-action keyboard (reply_markup JSON) the stranger now gets."""


class AuditEntry(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A ``bot:audit`` entry (field ``data``, JSON): who did what to which request, and when.

    Never a message text. ``telegram_id`` is the stranger the request is for
    (0: not known, for a forged press); ``by`` the person who acted (the
    stranger for a request, the admin for a decision or a refused press; 0
    for the bot's own steps: cards sent, outcomes delivered, expiry), and
    ``process`` the notifier that took such a step.
    """

    event: str
    """``access_requested``, ``access_approved``, ``access_denied``, ``access_approve_failed``,
    ``access_refused`` (ingress); ``access_cards_sent``, ``access_outcome_delivered``,
    ``access_expired`` (notifier)."""
    at_ms: int
    """When, in ms since the epoch (Redis's clock where a script writes it)."""
    by: int = 0
    rid: str = ""
    telegram_id: int = 0
    reason: str = ""
    process: str = ""
    details: dict[str, str | int] = msgspec.field(default_factory=dict)
    """What else the step knows (how many cards, the decision delivered...)."""


request_decoder: Final = msgspec.json.Decoder(AccessRequest)
outcome_decoder: Final = msgspec.json.Decoder(AccessOutcome)
encoder: Final = msgspec.json.Encoder()
