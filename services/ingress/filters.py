"""The ingress's message filters, as async ``Filter`` classes.

Not magic filters (``F.text``...): aiogram 3.31 runs every synchronous
filter callable through ``asyncio.to_thread``, a thread hop per filter per
update, which cost the ingress most of its throughput in the benchmark
(``bench/ingress.py``). A ``Filter`` subclass is awaited in the loop.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from aiogram.enums import ChatType
from aiogram.filters import Filter
from aiogram.types import CallbackQuery, Message

COMMAND_SHAPE = re.compile(r"^/[A-Za-z0-9_]{1,32}(@[A-Za-z0-9_]+)?(?=\s|$)")
"""What Telegram marks as a ``bot_command`` at the start of a message."""


class PrivateChat(Filter):
    """A private chat (``private=True``), or any other kind (``private=False``)."""

    def __init__(self, *, private: bool = True) -> None:
        self._private = private

    async def __call__(self, message: Message) -> bool:
        return (message.chat.type == ChatType.PRIVATE) == self._private


class PrivateChatMessage(Filter):
    """A private chat's message that is neither a command nor a button press: the chat's.

    One filter rather than ``PrivateChat() & ~CommandShaped() & ~ButtonPress()``:
    it runs for nearly every update, and each filter object costs aiogram a
    call chain. ``buttons``: the reply keyboard's labels.
    """

    def __init__(self, buttons: Collection[str] = ()) -> None:
        self._buttons = frozenset(buttons)

    async def __call__(self, message: Message) -> bool:
        if message.chat.type != ChatType.PRIVATE:
            return False
        text = message.text
        return text is None or (COMMAND_SHAPE.match(text) is None and text not in self._buttons)


class ButtonPress(Filter):
    """A private chat's message that is exactly a button's label; gives ``button`` (its action).

    Exact: a message that merely contains the word (``покажи проекты``), or
    the label with anything added, is a chat message.
    """

    def __init__(self, actions: Mapping[str, str]) -> None:
        self._actions = dict(actions)

    async def __call__(self, message: Message) -> bool | dict[str, Any]:
        if message.chat.type != ChatType.PRIVATE or message.text is None:
            return False
        action = self._actions.get(message.text)
        return {"button": action} if action is not None else False


class Button(Filter):
    """The press (see :class:`ButtonPress`, which must run first) of this action's button."""

    def __init__(self, action: str) -> None:
        self._action = action

    async def __call__(self, message: Message, button: str) -> bool:
        return button == self._action


class PrivateCallback(Filter):
    """A button pressed under one of the bot's messages in a private chat."""

    async def __call__(self, query: CallbackQuery) -> bool:
        message = query.message
        return message is not None and message.chat.type == ChatType.PRIVATE


class HasText(Filter):
    async def __call__(self, message: Message) -> bool:
        return bool(message.text)


class HasCaption(Filter):
    async def __call__(self, message: Message) -> bool:
        return bool(message.caption)


class HasLocation(Filter):
    """A message with a location: in an edit, a live location that moved."""

    async def __call__(self, message: Message) -> bool:
        return message.location is not None


class HasWords(Filter):
    """A text or a caption: something a person wrote."""

    async def __call__(self, message: Message) -> bool:
        return bool(message.text or message.caption)


class CommandShaped(Filter):
    """Text that starts like a command (``/name`` or ``/name@bot``); gives ``command``."""

    async def __call__(self, message: Message) -> bool | dict[str, Any]:
        match = COMMAND_SHAPE.match(message.text or "")
        return {"command": match.group(0)} if match else False
