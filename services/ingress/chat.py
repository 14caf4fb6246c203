"""Chat messages from known users in private chats: queued for the relays.

A text goes into the ``IntakeBatch`` (stored in Redis before the update is
confirmed). With ``FILES_SIGNING_KEY`` set, a photo, document, voice, audio,
video, video note or animation goes too, as one message with its
attachment and the caption as text (``attachments``); a sticker, location,
contact, poll or anything else gets an answer saying what can be sent.
Without the key, files are not passed on: a caption is forwarded with a
note that the file stayed behind, and anything without text gets the "only
text for now" reply. Edits are not forwarded a second time: the PO already
has the first version, and a second copy would read as a new message (a
live location's updates, which arrive as edits, are not answered at all).

A text or caption that goes to the PO may also bring the quick-action
keyboard up, once per keyboard session (``keyboard_sessions``). A text that
is exactly a button's label is not a chat message: it is the button's
(``buttons``); one that merely contains the word is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiogram import Router
from aiogram.types import Message, Update

from services.ingress.attachments import FileLinks, HasFile, not_passed_on
from services.ingress.batch import IntakeBatch, valid_unicode
from services.ingress.filters import (
    HasCaption,
    HasLocation,
    HasText,
    PrivateChat,
    PrivateChatMessage,
)
from services.ingress.keyboard_sessions import KeyboardSessions
from services.ingress.keyboards import every_button_action
from services.ingress.outbox import Outbox
from shared.attachments import Attachment, AttachmentKind
from shared.log import debug_enabled, get_logger
from shared.schemas import IncomingMessage, User, new_id
from shared.texts import Texts

log = get_logger(__name__)
_debug_enabled = debug_enabled(__name__)


def register(router: Router, languages: Sequence[Texts], files: FileLinks | None = None) -> None:
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
    # ``files`` (None: FILES_SIGNING_KEY unset) is in the dispatcher's data as well.
    chat_message = PrivateChatMessage(every_button_action(languages))
    router.message.register(queue_text, chat_message, HasText())
    if files is None:
        router.message.register(queue_caption_without_file, chat_message, HasCaption())
        router.message.register(refuse_non_text, chat_message)
    else:
        router.message.register(queue_file, chat_message, HasFile())
        router.message.register(queue_caption, chat_message, HasCaption())
        router.message.register(refuse_not_passed_on, chat_message)
    router.edited_message.register(ignore_live_location, PrivateChat(), HasLocation())
    router.edited_message.register(refuse_edit, PrivateChat())


async def queue_text(
    message: Message,
    user: User,
    intake: IntakeBatch,
    event_update: Update,
    keyboards: KeyboardSessions,
    texts: Texts,
) -> None:
    assert message.text is not None  # guaranteed by HasText
    _queue(message, message.text, user, intake, event_update, texts.language)
    keyboards.offer(message.chat.id, admin=user.is_admin)


async def queue_file(
    message: Message,
    user: User,
    intake: IntakeBatch,
    event_update: Update,
    outbox: Outbox,
    texts: Texts,
    keyboards: KeyboardSessions,
    files: FileLinks,
    file: tuple[AttachmentKind, Any],
) -> None:
    """A file (``file``, from ``HasFile``) with its caption, if any: one message for the PO."""
    kind, media = file
    chat_id = message.chat.id
    try:
        attachment = files.attachment(kind, media, intake.received_at)
    except ValueError:
        # Not a Telegram file id: nothing the files process could ever serve.
        log.warning("file_refused", chat_id=chat_id, kind=kind, reason="bad_file_id")
        outbox.say(chat_id, texts.not_passed_on["other"])
        return
    if attachment.too_large:
        log.info("file_too_large", chat_id=chat_id, kind=kind, size=attachment.size)
        # Said before the message is added: stored with it, sent once it is stored.
        outbox.say(chat_id, files.too_large_note(attachment, texts))
    _queue(
        message,
        message.caption or "",
        user,
        intake,
        event_update,
        texts.language,
        attachments=[attachment],
        media_group_id=message.media_group_id or "",
    )
    keyboards.offer(chat_id, admin=user.is_admin)


async def queue_caption(
    message: Message,
    user: User,
    intake: IntakeBatch,
    event_update: Update,
    keyboards: KeyboardSessions,
    texts: Texts,
) -> None:
    """A caption on something that is not a file the PO gets (files passed on)."""
    assert message.caption is not None  # guaranteed by HasCaption
    _queue(message, message.caption, user, intake, event_update, texts.language)
    keyboards.offer(message.chat.id, admin=user.is_admin)


async def queue_caption_without_file(
    message: Message,
    user: User,
    intake: IntakeBatch,
    event_update: Update,
    outbox: Outbox,
    texts: Texts,
    keyboards: KeyboardSessions,
) -> None:
    """A caption, files not passed on (FILES_SIGNING_KEY unset): the file stays behind."""
    assert message.caption is not None  # guaranteed by HasCaption
    _queue(message, message.caption, user, intake, event_update, texts.language)
    outbox.say(message.chat.id, texts.caption_forwarded)
    keyboards.offer(message.chat.id, admin=user.is_admin)


async def refuse_non_text(message: Message, outbox: Outbox, texts: Texts) -> None:
    log.info("message_without_text", chat_id=message.chat.id, content_type=message.content_type)
    outbox.say(message.chat.id, texts.only_text)


async def refuse_not_passed_on(message: Message, outbox: Outbox, texts: Texts) -> None:
    """Neither text nor a file (a sticker, a location...): say what can be sent."""
    what = not_passed_on(message)
    log.info(
        "message_not_passed_on",
        chat_id=message.chat.id,
        content_type=message.content_type,
        answer=what,
    )
    outbox.say(message.chat.id, texts.not_passed_on.get(what) or texts.not_passed_on["other"])


async def refuse_edit(message: Message, outbox: Outbox, texts: Texts) -> None:
    log.info("edit_not_forwarded", chat_id=message.chat.id, message_id=message.message_id)
    outbox.say(message.chat.id, texts.edit_not_forwarded)


async def ignore_live_location(message: Message) -> None:
    """A live location moved: Telegram sends it as an edit, every few seconds. No answer."""
    log.debug("live_location_ignored", chat_id=message.chat.id, message_id=message.message_id)


def _queue(
    message: Message,
    text: str,
    user: User,
    intake: IntakeBatch,
    event_update: Update,
    language: str,
    *,
    attachments: list[Attachment] | None = None,
    media_group_id: str = "",
) -> None:
    text = valid_unicode(text)
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
            attachments=attachments or [],
            media_group_id=media_group_id,
            language=language,
        )
    )
    # Message texts only at DEBUG: they are the users' words. (Checked first:
    # a dropped debug event still costs structlog several microseconds.)
    if _debug_enabled():
        log.debug("message_accepted", update_id=event_update.update_id, text=text)
