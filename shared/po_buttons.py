"""Buttons a PO offers under its reply (CONTRACTS.md, "Bot extensions"): what both sides share.

The relay shows them as an inline keyboard and keeps what they stand for
in Redis (``keys.po_buttons``, one :class:`ButtonOffer` per reply, TTL
``PO_BUTTONS_TTL_S``); the ingress takes a press and queues it for the PO.
They never import each other, so the callback data format, the record and
the key derivation live here.

Callback data is ``pb1:<key>:<index>``: Telegram allows 64 bytes, the PO's
data may have 256, so the button carries only where to find it. ``pb`` is
"PO button", ``1`` the format's version, as with the ingress's own buttons
(``services.ingress.keyboards``): a new meaning gets a new prefix, and
buttons of an older format are refused as expired. ``<key>`` is derived
from the user and the output entry, not random: a reply sent again after a
crash writes the same record and shows the same buttons.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any, Final, Protocol

import msgspec
import redis.asyncio as aioredis

from shared import keys
from shared.sending.pieces import ReplyMarkup

CALLBACK_PREFIX: Final = "pb1"
MAX_LABEL_CHARS: Final = 64
MAX_DATA_BYTES: Final = 256
MAX_ROWS: Final = 8
MAX_PER_ROW: Final = 4
TTL_S: Final = 7 * 24 * 60 * 60
"""How long a reply's buttons can be pressed, by default (``PO_BUTTONS_TTL_S``)."""
_KEY_BYTES: Final = 12
_CALLBACK: Final = re.compile(rf"^{CALLBACK_PREFIX}:([A-Za-z0-9_-]{{16}}):([0-9]{{1,2}})$")


class OfferedButton(msgspec.Struct, frozen=True):
    """One button: its label (at most 64 characters) and the PO's data (at most 256 bytes)."""

    text: str
    data: str


class ButtonOffer(msgspec.Struct, kw_only=True, frozen=True):
    """The record behind a reply's keyboard: whose it is, what it answers, its buttons.

    ``buttons`` are flattened row by row; a button's callback data holds its index.
    """

    user_id: int
    chat_id: int
    reply_to: str
    """The ``request_id`` of the reply that carried the buttons ('' when the PO named none)."""
    buttons: list[OfferedButton]


def offer_key(user_id: int, entry_id: str) -> str:
    """A short key (16 URL-safe characters) for the buttons of the output entry ``entry_id``."""
    digest = hashlib.blake2b(f"{user_id}:{entry_id}".encode(), digest_size=_KEY_BYTES).digest()
    return base64.urlsafe_b64encode(digest).decode()


def callback_data(key: str, index: int) -> str:
    return f"{CALLBACK_PREFIX}:{key}:{index}"


def parse_callback(data: str | None) -> tuple[str, int] | None:
    """``(key, index)`` of a ``pb1:`` callback data; None if it is not one."""
    match = _CALLBACK.match(data or "")
    if match is None:
        return None
    return match.group(1), int(match.group(2))


def inline_keyboard(key: str, rows: tuple[tuple[OfferedButton, ...], ...]) -> ReplyMarkup:
    """The reply's keyboard: the PO's rows, each button pointing at its index in the offer."""
    keyboard: list[list[dict[str, Any]]] = []
    index = 0
    for row in rows:
        keyboard.append([])
        for button in row:
            keyboard[-1].append({"text": button.text, "callback_data": callback_data(key, index)})
            index += 1
    return {"inline_keyboard": keyboard}


class Offering(Protocol):
    """A reply with buttons (the relay's ``POReply``)."""

    @property
    def request_id(self) -> str | None: ...

    @property
    def buttons(self) -> tuple[tuple[OfferedButton, ...], ...]: ...


def offer(
    user_id: int, entry_id: str, chat_id: int, reply: Offering
) -> tuple[str, ButtonOffer, ReplyMarkup]:
    """For the reply in output entry ``entry_id``: its key, its record, and its keyboard."""
    key = offer_key(user_id, entry_id)
    record = ButtonOffer(
        user_id=user_id,
        chat_id=chat_id,
        reply_to=reply.request_id or "",
        buttons=[button for row in reply.buttons for button in row],
    )
    return key, record, inline_keyboard(key, reply.buttons)


async def keep(redis: aioredis.Redis, key: str, offer: ButtonOffer, ttl_s: int) -> None:
    """Store ``offer`` for its presses (plain SET: the same entry writes the same record)."""
    await redis.set(keys.po_buttons(key), msgspec.json.encode(offer), ex=ttl_s)
