"""The ingress's message filters, as async ``Filter`` classes.

Not magic filters (``F.text``...): aiogram 3.31 runs every synchronous
filter callable through ``asyncio.to_thread``, a thread hop per filter per
update, which cost the ingress most of its throughput in the benchmark
(``bench/ingress.py``). A ``Filter`` subclass is awaited in the loop.
"""

from __future__ import annotations

import re
from typing import Any

from aiogram.enums import ChatType
from aiogram.filters import Filter
from aiogram.types import Message

COMMAND_SHAPE = re.compile(r"^/[A-Za-z0-9_]{1,32}(@[A-Za-z0-9_]+)?(?=\s|$)")
"""What Telegram marks as a ``bot_command`` at the start of a message."""


class PrivateChat(Filter):
    """A private chat (``private=True``), or any other kind (``private=False``)."""

    def __init__(self, *, private: bool = True) -> None:
        self._private = private

    async def __call__(self, message: Message) -> bool:
        return (message.chat.type == ChatType.PRIVATE) == self._private


class PrivateChatMessage(Filter):
    """A private chat's message that is not a command: what the chat router takes.

    One filter rather than ``PrivateChat() & ~CommandShaped()``: it runs for
    nearly every update, and each filter object costs aiogram a call chain.
    """

    async def __call__(self, message: Message) -> bool:
        if message.chat.type != ChatType.PRIVATE:
            return False
        return message.text is None or COMMAND_SHAPE.match(message.text) is None


class HasText(Filter):
    async def __call__(self, message: Message) -> bool:
        return bool(message.text)


class HasCaption(Filter):
    async def __call__(self, message: Message) -> bool:
        return bool(message.caption)


class HasWords(Filter):
    """A text or a caption: something a person wrote."""

    async def __call__(self, message: Message) -> bool:
        return bool(message.text or message.caption)


class CommandShaped(Filter):
    """Text that starts like a command (``/name`` or ``/name@bot``); gives ``command``."""

    async def __call__(self, message: Message) -> bool | dict[str, Any]:
        match = COMMAND_SHAPE.match(message.text or "")
        return {"command": match.group(0)} if match else False
