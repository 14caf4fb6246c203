"""Each update in its sender's language: ``texts`` in the handlers' data.

An outer middleware, before the access check (whose rejection is a text too):
the sender's Telegram ``language_code`` picks a catalogue (``en-GB`` is
``en``); none, or one without a catalogue, gets ``DEFAULT_LANGUAGE``. The
keyboard sessions are bound to the same language, so the quick-action
keyboard a user is sent carries their labels. Every language's labels are
recognised whoever presses them (``buttons``).
"""

from __future__ import annotations

from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from aiogram.types import User as TelegramUser

from services.ingress.auth import Handler
from services.ingress.keyboard_sessions import KeyboardSessions
from services.ingress.outbox import Outbox
from shared.texts import DEFAULT_LANGUAGE, Texts, for_language


class LanguageMiddleware(BaseMiddleware):
    def __init__(self, default: str = DEFAULT_LANGUAGE) -> None:
        self._default = default

    def texts_for(self, sender: TelegramUser | None) -> Texts:
        return for_language(sender.language_code if sender is not None else None, self._default)

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        texts = self.texts_for(data.get("event_from_user"))
        data["texts"] = texts
        keyboards: KeyboardSessions | None = data.get("keyboards")
        outbox: Outbox | None = data.get("outbox")
        if keyboards is not None and outbox is not None:
            data["keyboards"] = keyboards.bind(outbox, texts)
        return await handler(event, data)
