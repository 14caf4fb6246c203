"""The update queue, and what users do that lands in it.

A user's message, edit, button press or block becomes an update; updates
wait in :attr:`FakeState.pending_updates` until the bot confirms them, by a
``getUpdates`` offset or a webhook's 2xx, as on Telegram.
"""

from __future__ import annotations

import asyncio
import copy
import re
import time
from typing import Any

from .entities import entity, utf16_len
from .errors import CONFLICT_OTHER_POLLER, CONFLICT_WEBHOOK, ApiError, bad_request
from .records import CallbackPress, ChatState, WebhookConfig
from .state import FakeState, Poll
from .wire import JSONDict

DEFAULT_ALLOWED_UPDATES = frozenset(
    {
        "message", "edited_message", "channel_post", "edited_channel_post",
        "business_connection", "business_message", "edited_business_message",
        "deleted_business_messages", "inline_query", "chosen_inline_result",
        "callback_query", "shipping_query", "pre_checkout_query", "purchased_paid_media",
        "poll", "poll_answer", "my_chat_member", "chat_join_request", "chat_boost",
        "removed_chat_boost", "stopped_message_generation",
    }
)  # fmt: skip

DRAFT_LIFETIME_S = 30.0
"""A draft shows this long after its last ``sendMessageDraft`` (the Bot API's "30-second
preview"); only then can its user stop it."""


class FakeUpdates(FakeState):
    """Updates in: injected by tests or the sandbox; out: long polls (the webhook aside)."""

    # ---- what users do

    def inject_message(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        entities: list[JSONDict] | None = None,
        reply_to_message_id: int | None = None,
    ) -> JSONDict:
        """A user writes ``text`` in ``chat_id`` (private chat: user id = chat id)."""
        chat = self.chat(chat_id)
        fields: JSONDict = {"text": text}
        entities = entities if entities is not None else _command_entities(text)
        if entities:
            fields["entities"] = entities
        if reply_to_message_id is not None and reply_to_message_id in chat.messages:
            fields["reply_to_message"] = chat.messages[reply_to_message_id]
        return self.inject_content(chat_id, fields, user_id=user_id)

    def inject_media(
        self,
        chat_id: int,
        kind: str,
        content: bytes,
        *,
        caption: str | None = None,
        file_name: str | None = None,
        mime_type: str | None = None,
        media_group_id: str | None = None,
        user_id: int | None = None,
        width: int = 1280,
        height: int = 720,
        duration: int = 3,
    ) -> JSONDict:
        """A user sends a file of ``kind`` (``photo``, ``document``, ``voice``, ``audio``,
        ``video``, ``video_note``, ``animation``) holding ``content``, as Telegram shapes it.

        A photo comes in two sizes, a thumbnail at most 90 px wide and the full one (last),
        both served from the same bytes. ``media_group_id`` makes it one part of an album.
        """
        stored = self.files.add(content, kind=kind, file_name=file_name)
        ids = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        media: Any
        if kind == "photo":
            thumb = self.files.add(content[:1024], kind=kind)
            small = {"file_id": thumb.file_id, "file_unique_id": thumb.file_unique_id}
            thumb_width = min(90, width)  # never larger than the photo itself
            media = [
                {
                    **small,
                    "file_size": thumb.size,
                    "width": thumb_width,
                    "height": max(1, thumb_width * height // width),
                },
                {**ids, "file_size": stored.size, "width": width, "height": height},
            ]
        else:
            media = {**ids, "file_size": stored.size}
            if kind in ("video", "animation"):
                media |= {"width": width, "height": height}
            if kind == "video_note":
                media["length"] = width
            if kind != "document":
                media["duration"] = duration
            if file_name is not None and kind in ("document", "audio", "video", "animation"):
                media["file_name"] = file_name
            if mime_type is not None and kind != "video_note":
                media["mime_type"] = mime_type
        fields: JSONDict = {kind: media}
        if caption is not None:
            fields["caption"] = caption
        if media_group_id is not None:
            fields["media_group_id"] = media_group_id
        return self.inject_content(chat_id, fields, user_id=user_id)

    def inject_content(
        self, chat_id: int, fields: JSONDict, *, user_id: int | None = None
    ) -> JSONDict:
        """A user sends a message made of ``fields`` (a sticker, a location, a contact, a
        poll...), given as Telegram shapes them; the message's id, sender and date are added."""
        chat = self.chat(chat_id)
        sender = self.user(user_id if user_id is not None else _default_user_id(chat_id))
        message: JSONDict = {
            "message_id": chat.next_message_id(),
            "from": sender,
            "chat": chat.info,
            "date": int(time.time()),
            **copy.deepcopy(fields),
        }
        chat.messages[message["message_id"]] = message
        return self.inject_update({"message": copy.deepcopy(message)})

    def inject_edited_message(self, chat_id: int, message_id: int, text: str) -> JSONDict:
        """The user edits one of their messages."""
        message = self.chat(chat_id).messages.get(message_id)
        if message is None or message.get("from", {}).get("is_bot"):
            raise KeyError(f"no user message {message_id} in chat {chat_id}")
        message.update(text=text, edit_date=int(time.time()))
        message.pop("entities", None)
        if entities := _command_entities(text):
            message["entities"] = entities
        return self.inject_update({"edited_message": copy.deepcopy(message)})

    def inject_callback_query(
        self,
        chat_id: int,
        data: str,
        *,
        message_id: int | None = None,
        user_id: int | None = None,
    ) -> JSONDict:
        """The user presses an inline button (default: on the bot's latest message)."""
        chat = self.chat(chat_id)
        if message_id is None:
            if not chat.sent:
                raise KeyError(f"the bot has no message in chat {chat_id}")
            message_id = chat.sent[-1]["message_id"]
        message = chat.messages[message_id]
        query_id = str(next(self._query_ids) * 1_000_003)
        sender = self.user(user_id if user_id is not None else _default_user_id(chat_id))
        press = CallbackPress(query_id, message_id, data, sender["id"])
        chat.presses.append(press)
        self.open_callback_queries[query_id] = press
        query = {
            "id": query_id,
            "from": sender,
            "message": copy.deepcopy(message),
            "chat_instance": str(abs(chat_id) * 7 + 1),
            "data": data,
        }
        return self.inject_update({"callback_query": query})

    def press_button(
        self,
        chat_id: int,
        text: str,
        *,
        message_id: int | None = None,
        user_id: int | None = None,
    ) -> JSONDict:
        """The user presses the inline button labelled ``text`` (default: on the bot's latest
        message), as a client can: only a button the message shows now, its data sent as is."""
        chat = self.chat(chat_id)
        if message_id is None:
            with_keyboard = [m for m in chat.sent if "reply_markup" in m]
            if not with_keyboard:
                raise KeyError(f"no bot message with an inline keyboard in chat {chat_id}")
            message_id = with_keyboard[-1]["message_id"]
        rows = chat.messages[message_id].get("reply_markup", {}).get("inline_keyboard", [])
        for button in (b for row in rows for b in row):
            if button.get("text") == text and "callback_data" in button:
                data = str(button["callback_data"])
                return self.inject_callback_query(
                    chat_id, data, message_id=message_id, user_id=user_id
                )
        raise KeyError(f"message {message_id} in chat {chat_id} has no callback button {text!r}")

    def stop_draft(self, chat_id: int, draft_id: int) -> JSONDict:
        """The user presses the stop button of a live draft sent with ``can_stop``.

        As on Telegram the bot gets a ``stopped_message_generation`` update;
        the draft disappears unless it was sent with ``keep_on_stop``.
        ``LookupError`` if no such draft shows now (never sent, replaced by a
        message, or older than 30 s); ``ValueError`` if it has no stop button.
        """
        chat = self.chat(chat_id)
        draft = chat.drafts.get(draft_id)
        if draft is None or self.clock() - draft.time > DRAFT_LIFETIME_S:
            raise LookupError(f"no live draft {draft_id} in chat {chat_id}")
        if not draft.can_stop or draft.stopped:
            raise ValueError(f"draft {draft_id} in chat {chat_id} shows no stop button")
        draft.stopped = True
        if not draft.keep_on_stop:
            del chat.drafts[draft_id]
        stopped = {"chat": chat.info, "draft_id": draft_id}
        return self.inject_update({"stopped_message_generation": copy.deepcopy(stopped)})

    def set_reactions_enabled(self, chat_id: int, enabled: bool) -> None:
        """The chat's admins allow (or forbid) reactions; a forbidden one: ``REACTION_INVALID``."""
        self.chat(chat_id).reactions_enabled = enabled
        self.notify()

    def block(self, chat_id: int, blocked: bool = True) -> None:
        """The chat's user blocks (or unblocks) the bot: sends get 403.

        As on Telegram, the bot is told with a ``my_chat_member`` update
        (status ``kicked`` / ``member``) in private chats.
        """
        chat = self.chat(chat_id)
        if chat.blocked == blocked:
            return
        chat.blocked = blocked
        self.notify()
        if chat.is_private:
            old, new = ("member", "kicked") if blocked else ("kicked", "member")
            self.inject_update({"my_chat_member": self._member_change(chat, old, new)})

    def _member_change(self, chat: ChatState, old: str, new: str) -> JSONDict:
        def member(status: str) -> JSONDict:
            extra = {"until_date": 0} if status == "kicked" else {}
            return {"status": status, "user": self.bot_user, **extra}

        return {
            "chat": chat.info,
            "from": self.user(_default_user_id(chat.id)),
            "date": int(time.time()),
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        }

    # ---- the queue

    def inject_update(self, update: JSONDict, *, assign_id: bool = True) -> JSONDict:
        """Queue a raw update (fuzzing welcome); ``update_id`` is assigned unless told not to.

        Like Telegram, updates of a type outside ``allowed_updates`` are not
        queued at all (they land in ``filtered_updates``).
        """
        update = dict(update)
        if assign_id:
            update["update_id"] = next(self._update_ids)
        elif not isinstance(update.get("update_id"), int):
            raise ValueError("a raw update kept as is needs an integer update_id")
        kind = _update_type(update)
        allowed = self.allowed_updates or DEFAULT_ALLOWED_UPDATES
        if kind is not None and kind not in allowed:
            self.filtered_updates.append(update)
        else:
            self.pending_updates.append(update)
        self.notify()
        return update

    def set_allowed_updates(self, allowed: Any) -> None:
        if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
            raise bad_request("can't parse allowed_updates JSON object")
        # An empty list means "the default set", as on Telegram.
        self.allowed_updates = frozenset(allowed) if allowed else None

    def confirm_updates(self, offset: int) -> None:
        """Forget updates before ``offset``; a negative offset keeps only the last -offset."""
        if offset < 0:
            self.pending_updates = self.pending_updates[offset:]
        else:
            self.pending_updates = [u for u in self.pending_updates if u["update_id"] >= offset]
        self.notify()

    def drop_pending_updates(self) -> None:
        self.pending_updates.clear()
        self.notify()

    async def long_poll(self, limit: int, timeout: float) -> list[JSONDict]:
        """Answer ``getUpdates``: now if updates wait, else when one comes or time runs out."""
        if self._poll is not None:
            self._poll.superseded = True  # the older poller gets the 409
        poll = self._poll = Poll()
        self.notify()
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            while True:
                if poll.superseded:
                    raise ApiError(409, CONFLICT_OTHER_POLLER)
                if self.webhook is not None:
                    raise ApiError(409, CONFLICT_WEBHOOK)
                remaining = deadline - asyncio.get_running_loop().time()
                if self.pending_updates or remaining <= 0 or self.stopping:
                    return copy.deepcopy(self.pending_updates[:limit])
                await self.wait_change(remaining)
        finally:
            if self._poll is poll:
                self._poll = None
                self.notify()

    def set_webhook(self, config: WebhookConfig | None) -> None:
        """Set (or with None remove) the webhook: updates leave by push, not by long poll."""
        self.webhook = config
        self.notify()


def _update_type(update: JSONDict) -> str | None:
    return next((key for key in update if key != "update_id"), None)


def _default_user_id(chat_id: int) -> int:
    # In a private chat the user id is the chat id; groups get one stock member.
    return chat_id if chat_id > 0 else 100_001


def _command_entities(text: str) -> list[JSONDict]:
    # Telegram marks a leading "/command" as a bot_command entity.
    match = re.match(r"/[A-Za-z0-9_]{1,32}(@[A-Za-z0-9_]{5,32})?", text)
    return [entity("bot_command", 0, utf16_len(match.group(0)))] if match else []
