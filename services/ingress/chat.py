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

from services.ingress.batch import IntakeBatch
from services.ingress.filters import HasCaption, HasText, PrivateChat, PrivateChatMessage
from services.ingress.keyboard_sessions import KeyboardSessions
from services.ingress.keyboards import button_actions
from services.ingress.outbox import Outbox
from shared.log import debug_enabled, get_logger
from shared.schemas import IncomingMessage, User, new_id
from shared.texts import Texts

log = get_logger(__name__)
_debug_enabled = debug_enabled(__name__)


def register(router: Router, texts: Texts) -> None:
    """Put the chat handlers on ``router``: the dispatcher itself, in the ingress.

    Unlike the other concerns, which each bring a router of their own, these
    go on the root: a chat text is by far the most frequent update, and
    descending one router level (its middlewares wrapped, its filters
    resolved) cost about 10 µs of the ingress's 60 µs per update in
    aiogram (``bench/ingress.py``, docs/BENCHMARKS.md). The root's handlers
    are tried before any included router, so behaviour is the same as a
    first router of their own.
    """
    # Per handler, not on the router: a router's own filters, failing, would
    # keep the update from every router below it (aiogram's REJECTED).
    # Commands and button presses are those routers'.
    chat_message = PrivateChatMessage(button_actions(texts))
    router.message.register(queue_text, chat_message, HasText())
    router.message.register(queue_caption, chat_message, HasCaption())
    router.message.register(refuse_non_text, chat_message)
    router.edited_message.register(refuse_edit, PrivateChat())


async def queue_text(
    message: Message,
    user: User,
    intake: IntakeBatch,
    event_update: Update,
    keyboards: KeyboardSessions,
) -> None:
    assert message.text is not None  # guaranteed by HasText
    _queue(message, message.text, user, intake, event_update)
    keyboards.offer(message.chat.id, admin=user.is_admin)


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
    keyboards.offer(message.chat.id, admin=user.is_admin)


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
