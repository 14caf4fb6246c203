"""Messages: sending, editing and deleting them, drafts and chat actions."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ..errors import NOT_MODIFIED, bad_request
from ..params import Params
from ..records import ChatAction, Draft
from ..wire import JSONDict
from .markup import reply_markup
from .registry import bot_method

if TYPE_CHECKING:
    from ..fake import FakeTelegram

CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice",
        "upload_voice", "upload_document", "choose_sticker", "find_location",
        "record_video_note", "upload_video_note",
    }
)  # fmt: skip


@bot_method("sendMessage")
async def send_message(fake: FakeTelegram, params: Params) -> Any:
    chat_id = params.chat_id()
    formatted = fake.format_text(params)
    markup = reply_markup(params)
    reply_to = _reply_to(fake, chat_id, params)
    fake.admit_send(chat_id)
    return fake.post_bot_message(chat_id, formatted, reply_markup=markup, reply_to=reply_to)


@bot_method("editMessageText")
async def edit_message_text(fake: FakeTelegram, params: Params) -> Any:
    chat_id, message_id, message = _message_to_edit(fake, params)
    formatted = fake.format_text(params)
    markup = _inline_markup(params)
    unchanged = (
        message.get("text") == formatted.text
        and message.get("entities", []) == formatted.entities
        and message.get("reply_markup") == markup
    )
    if unchanged:
        raise bad_request(NOT_MODIFIED)
    fake.admit_send(chat_id)
    return fake.edit_bot_message(chat_id, message_id, formatted, reply_markup=markup)


@bot_method("editMessageReplyMarkup")
async def edit_message_reply_markup(fake: FakeTelegram, params: Params) -> Any:
    """A new inline keyboard for a bot message; without ``reply_markup`` it removes it."""
    chat_id, message_id, message = _message_to_edit(fake, params)
    markup = _inline_markup(params)
    if message.get("reply_markup") == markup:
        raise bad_request(NOT_MODIFIED)
    fake.admit_send(chat_id)
    return fake.edit_bot_markup(chat_id, message_id, markup)


def _message_to_edit(fake: FakeTelegram, params: Params) -> tuple[int, int, JSONDict]:
    if params.has("inline_message_id"):
        raise bad_request("message to edit not found")
    chat_id = params.chat_id()
    message_id = params.integer("message_id")
    if message_id is None:
        raise bad_request("message identifier is not specified")
    message = fake.chat(chat_id).messages.get(message_id)
    if message is None:
        raise bad_request("message to edit not found")
    if not message.get("from", {}).get("is_bot") or message_id in fake.chat(chat_id).not_editable:
        raise bad_request("message can't be edited")
    return chat_id, message_id, message


def _inline_markup(params: Params) -> JSONDict | None:
    """An edit's ``reply_markup``: only an inline keyboard may replace a message's."""
    markup = reply_markup(params)
    if markup is not None and "inline_keyboard" not in markup:
        raise bad_request("inline keyboard expected")
    if markup is not None and not any(markup["inline_keyboard"]):
        return None  # an empty keyboard is no keyboard, as on Telegram
    return markup


@bot_method("deleteMessage")
async def delete_message(fake: FakeTelegram, params: Params) -> Any:
    chat_id = params.chat_id()
    message_id = params.integer("message_id")
    chat = fake.chat(chat_id)
    if message_id is None or message_id not in chat.messages:
        raise bad_request("message to delete not found")
    chat.deleted.append(chat.messages.pop(message_id))
    chat.reactions.pop(message_id, None)  # reactions go with their message
    fake.notify()
    return True


@bot_method("sendChatAction")
async def send_chat_action(fake: FakeTelegram, params: Params) -> Any:
    chat_id = params.chat_id()
    action = params.string("action")
    if action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    fake.check_not_blocked(chat_id)
    fake.chat(chat_id).actions.append(ChatAction(action, fake.clock()))
    fake.notify()
    return True


@bot_method("sendMessageDraft")
async def send_message_draft(fake: FakeTelegram, params: Params) -> Any:
    chat_id = params.chat_id()
    draft_id = params.integer("draft_id")
    if not draft_id:
        raise bad_request("draft_id must be non-zero")
    if chat_id < 0:
        raise bad_request("TEXTDRAFT_PEER_INVALID")
    formatted = fake.format_text(params, allow_empty=True)
    fake.admit_send(chat_id)
    draft = Draft(
        draft_id,
        formatted.text,
        formatted.entities,
        fake.clock(),
        can_stop=params.boolean("can_stop"),
        keep_on_stop=params.boolean("keep_on_stop"),
    )
    chat = fake.chat(chat_id)
    chat.drafts[draft_id] = draft
    chat.draft_history.append(draft)
    fake.notify()
    return True


def _reply_to(fake: FakeTelegram, chat_id: int, params: Params) -> JSONDict | None:
    reply = params.json("reply_parameters")
    legacy = params.integer("reply_to_message_id")
    if reply is None and legacy is None:
        return None
    if reply is None:
        reply = {"message_id": legacy}
    if not isinstance(reply, dict):
        raise bad_request("can't parse reply parameters JSON object")
    target = fake.chat(chat_id).messages.get(int(reply.get("message_id") or 0))
    if target is None and not reply.get("allow_sending_without_reply"):
        raise bad_request("message to be replied not found")
    return copy.deepcopy(target) if target is not None else None
