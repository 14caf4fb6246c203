"""Presses of the buttons a PO offered under its reply (``pb1:<key>:<index>``).

The relay showed the keyboard and stored what it stands for; here a press
is checked and claimed in one script (``po_button_claim.lua``):

- no offer under the key (expired after ``PO_BUTTONS_TTL_S``, forged), an
  offer of another user, no button at that index: "expired", nothing else;
- one of the offer's buttons pressed already by another update: "expired".
  The claim (``bot:buttons:{key}:pressed``, ``SET`` once) holds the winning
  update's id, so the same update delivered again (Telegram re-sends it
  when the ingress died before confirming it) still counts as the press,
  however many ingress replicas there are;
- else the press goes into the user's ``bot:incoming:{p}`` like a chat
  message (``IncomingMessage.kind == "button"``: label, ``reply_to``,
  ``data``), so it reaches the PO in the user's order, stored with the
  update; the question is edited, its keyboard replaced by a last line
  "→ <label>" (text appended, buttons removed: the choice stays on screen,
  and nothing is left to press; when the appended text would not fit one
  message, the text stays and the keyboard becomes one "→ <label>" button,
  whose press is refused); the query is answered.

A press is not a chat message: it never opens a keyboard session (no
``keyboards.offer``). A question too old to be shown in the callback
(``InaccessibleMessage``) is still answered and its press still sent; only
the edit is skipped (the text to append to is unknown), and a second press
there is refused like any other.
"""

from __future__ import annotations

import html
from typing import Any

import msgspec
import redis.asyncio as aioredis
from aiogram import Router
from aiogram.filters import Filter
from aiogram.types import CallbackQuery, Message, Update

from services.ingress.batch import IntakeBatch
from services.ingress.callbacks import answer_query
from services.ingress.filters import PrivateCallback
from services.ingress.outbox import Outbox
from shared import keys
from shared.connections import text
from shared.log import get_logger
from shared.po_buttons import MAX_LABEL_CHARS, ButtonOffer, parse_callback
from shared.schemas import IncomingMessage, User, new_id
from shared.scripts import register
from shared.texts import Texts

log = get_logger(__name__)


class ButtonPresses:
    """Claims presses in Redis; see the module docstring."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self._claim = register(redis, __file__, "po_button_claim.lua")

    async def claim(
        self, key: str, index: int, user_id: int, update_id: int
    ) -> tuple[str, ButtonOffer | None]:
        """``("ok", offer)``, or ``("expired" | "taken", None)``."""
        reply: Any = await self._claim(
            keys=[keys.po_buttons(key), keys.po_button_press(key)],
            args=[update_id, user_id, index],
        )
        outcome = text(reply[0])
        if outcome != "ok":
            return outcome, None
        return outcome, msgspec.json.decode(reply[1], type=ButtonOffer)


class POButton(Filter):
    """Callback data of the ``pb`` family (any version: an old one is answered "expired")."""

    async def __call__(self, query: CallbackQuery) -> bool:
        return (query.data or "").startswith("pb")


def router() -> Router:
    """A fresh router (a router joins one dispatcher only; tests build several)."""
    buttons = Router(name="po_buttons")
    buttons.callback_query.register(pressed, PrivateCallback(), POButton())
    return buttons


async def pressed(
    query: CallbackQuery,
    user: User,
    intake: IntakeBatch,
    outbox: Outbox,
    event_update: Update,
    texts: Texts,
    presses: ButtonPresses,
) -> None:
    assert query.message is not None  # guaranteed by PrivateCallback
    parsed = parse_callback(query.data)
    outcome, offer = "expired", None
    if parsed is not None:
        outcome, offer = await presses.claim(*parsed, user.id, event_update.update_id)
    if offer is None or parsed is None:
        log.info("po_button_refused", user_id=user.id, reason=outcome)
        await answer_query(query, texts.po_button_expired)
        return
    button = offer.buttons[parsed[1]]
    question = query.message
    intake.add(
        IncomingMessage(
            user_id=user.id,
            telegram_id=user.telegram_id,
            chat_id=question.chat.id,
            message_id=question.message_id,
            text=button.text,
            update_id=event_update.update_id,
            timestamp=intake.received_at,
            request_id=new_id(),
            kind="button",
            reply_to=offer.reply_to,
            data=button.data,
            language=texts.language,
        )
    )
    log.info("po_button_pressed", user_id=user.id, reply_to=offer.reply_to or None)
    if isinstance(question, Message):
        _show_choice(outbox, question, texts.po_button_chosen.format(label=button.text), query)
    await answer_query(query)


def _show_choice(outbox: Outbox, question: Message, chosen: str, query: CallbackQuery) -> None:
    """The question, its keyboard replaced by a last line "→ <label>"."""
    chat_id, message_id, shown = question.chat.id, question.message_id, question.html_text
    if outbox.edit(chat_id, message_id, f"{shown}\n\n{html.escape(chosen)}", html=True):
        return
    # Too long to append to (a full last part): one button says it instead (pressed, "expired").
    button = {"text": chosen[:MAX_LABEL_CHARS], "callback_data": query.data}
    markup = {"inline_keyboard": [[button]]}
    outbox.edit(chat_id, message_id, shown, html=True, reply_markup=markup)
