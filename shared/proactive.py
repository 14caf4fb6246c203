"""``po:proactive``: a message the PO service starts itself (``po-service``, CONTRACTS.md).

Unlike the bot's other shared streams, its entries hold FLAT string fields,
no ``data`` JSON: ``text``, ``telegram_chat_id`` and, optionally,
``owner_user_id``, ``event``, ``story_id``, ``project_id``. Unknown fields are
ignored. :func:`decode_proactive` is the one place they are read and checked:
an entry without a text, or whose chat id is not a whole number, raises
``MalformedEntry`` (the stream consumer dead-letters it).
"""

from __future__ import annotations

from typing import Final

import msgspec

from shared.schemas import MalformedEntry

MAX_CHAT_ID: Final = 2**53
"""Telegram's ids fit 52 bits; anything larger is no chat."""
FIELDS: Final = ("text", "telegram_chat_id", "owner_user_id", "event", "story_id", "project_id")


class ProactiveMessage(msgspec.Struct, kw_only=True, frozen=True):
    text: str
    """Plain text that may hold Markdown, possibly longer than one Telegram message."""
    telegram_chat_id: int
    """The user's private chat (its id is the user's Telegram id)."""
    owner_user_id: str | None = None
    event: str | None = None
    """What prompted it (``task_completed``, ``reminder``...): for logs and admin alerts."""
    story_id: str | None = None
    project_id: str | None = None


def decode_proactive(fields: dict[bytes, bytes]) -> ProactiveMessage:
    """The message of a ``po:proactive`` entry; ``MalformedEntry`` when it cannot be one."""
    raw = {
        name.decode(errors="replace"): value.decode(errors="replace")
        for name, value in fields.items()
    }
    known = {name: value for name, value in raw.items() if name in FIELDS and value != ""}
    if not known.get("text", "").strip():
        raise MalformedEntry("po:proactive entry has no text")
    try:
        # Not strict: the chat id comes as a string of digits and becomes an int here.
        message = msgspec.convert(known, ProactiveMessage, strict=False)
    except msgspec.ValidationError as exc:
        # msgspec names the field, never its value: the text stays out of logs.
        raise MalformedEntry(f"po:proactive entry: {exc}") from None
    if not 0 < abs(message.telegram_chat_id) < MAX_CHAT_ID:
        raise MalformedEntry("po:proactive entry: telegram_chat_id is no Telegram chat id")
    return message
