"""Chat messages from known users in private chats: queued for the relays.

A text goes into the ``IntakeBatch`` (stored in Redis before the update is
confirmed); a photo or document with a caption forwards the caption and
says the file stayed behind; anything without text gets the "only text
for now" reply. Edits are not forwarded a second time: the PO already has
the first version, and a second copy would read as a new message.

A text or caption that goes to the PO may also bring the quick-action
keyboard up, once per keyboard session (``keyboard_sessions``). A text that
is exactly a button's label is not a chat message: it is the button's
(``buttons``); one that merely contains the word is.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.types import Message, Update

from services.ingress.filters import HasCaption, HasText, PrivateChat, PrivateChatMessage
from services.ingress.intake import IntakeBatch
from services.ingress.keyboard_sessions import KeyboardSessions
from services.ingress.keyboards import button_actions
from services.ingress.outbox import Outbox
from shared.log import debug_enabled, get_logger
from shared.schemas import IncomingMessage, User, new_id
from shared.texts import Texts

log = get_logger(__name__)
_debug_enabled = debug_enabled(__name__)


def router(texts: Texts) -> Router:
    """A fresh router (a router joins one dispatcher only; tests build several)."""
    chat = Router(name="chat")
    # Commands and button presses are other routers'; checked once here, so
    # the hot path (a chat text) is settled by the first router it meets.
    chat.message.filter(PrivateChatMessage(button_actions(texts)))
    chat.edited_message.filter(PrivateChat())
    chat.message.register(queue_text, HasText())
    chat.message.register(queue_caption, HasCaption())
    chat.message.register(refuse_non_text)
    chat.edited_message.register(refuse_edit)
    return chat


async def queue_text(
    message: Message,
    user: User,
    intake: IntakeBatch,
    event_update: Update,
    keyboards: KeyboardSessions,
) -> None:
    assert message.text is not None  # guaranteed by HasText
    _queue(message, message.text, user, intake, event_update)
    keyboards.offer(message.chat.id)


async def queue_caption(
    message: Message,
    user: User,
    intake: IntakeBatch,
    event_update: Update,
    outbox: Outbox,
    texts: Texts,
    keyboards: KeyboardSessions,
) -> None:
    assert message.caption is not None  # guaranteed by HasCaption
    _queue(message, message.caption, user, intake, event_update)
    outbox.say(message.chat.id, texts.caption_forwarded)
    keyboards.offer(message.chat.id)


async def refuse_non_text(message: Message, outbox: Outbox, texts: Texts) -> None:
    log.info("message_without_text", chat_id=message.chat.id, content_type=message.content_type)
    outbox.say(message.chat.id, texts.only_text)


async def refuse_edit(message: Message, outbox: Outbox, texts: Texts) -> None:
    log.info("edit_not_forwarded", chat_id=message.chat.id, message_id=message.message_id)
    outbox.say(message.chat.id, texts.edit_not_forwarded)


def _queue(
    message: Message, text: str, user: User, intake: IntakeBatch, event_update: Update
) -> None:
    text = _valid_unicode(text)
    intake.add(
        IncomingMessage(
            user_id=user.id,
            telegram_id=user.telegram_id,
            chat_id=message.chat.id,
            message_id=message.message_id,
            text=text,
            update_id=event_update.update_id,
            timestamp=intake.received_at,
            request_id=new_id(),
        )
    )
    # Message texts only at DEBUG: they are the users' words. (Checked first:
    # a dropped debug event still costs structlog several microseconds.)
    if _debug_enabled():
        log.debug("message_accepted", update_id=event_update.update_id, text=text)


def _valid_unicode(text: str) -> str:
    """``text`` with lone surrogates (valid in JSON escapes, not in UTF-8) replaced by U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text
