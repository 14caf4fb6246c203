"""Whitelist authentication: a middleware that runs before any handler.

A sender is known only when the API's answer holds a user with their exact
Telegram id (``ApiClient.find_user`` checks). Strangers get the rejection
text and nothing else happens for them; an unreachable API fails closed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.types import Chat, TelegramObject
from aiogram.types import User as TelegramUser

from shared.api import ApiClient, ApiError
from shared.delivery import send_text
from shared.log import get_logger
from shared.texts import Texts

log = get_logger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class AuthMiddleware(BaseMiddleware):
    def __init__(self, api: ApiClient, texts: Texts) -> None:
        self._api = api
        self._texts = texts

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        sender: TelegramUser | None = data.get("event_from_user")
        chat: Chat | None = data.get("event_chat")
        if sender is None:
            return None  # updates without a person behind them are not ours to handle
        bot: Bot = data["bot"]
        try:
            user = await self._api.find_user(sender.id)
        except ApiError as exc:
            log.warning("auth_api_unavailable", telegram_id=sender.id, error=type(exc).__name__)
            if chat is not None:
                await send_text(bot, chat.id, self._texts.service_unavailable)
            return None
        if user is None:
            log.info("user_rejected", telegram_id=sender.id)
            if chat is not None:
                await send_text(bot, chat.id, self._rejection(sender.id))
            return None
        data["user"] = user
        return await handler(event, data)

    def _rejection(self, telegram_id: int) -> str:
        second = self._texts.access_denied_id.format(telegram_id=telegram_id)
        return f"{self._texts.access_denied}\n{second}"
