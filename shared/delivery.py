"""The one way the bot sends text to a chat.

Every process sends through here, never with ``bot.send_message`` of its
own, so that limits, formatting and retries live in one place.
This first version sends plain text (no parse mode: nothing to escape, so
nothing to break) and logs failures instead of raising them into handlers.
"""

from __future__ import annotations

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError

from shared.log import get_logger

log = get_logger(__name__)


async def send_text(bot: Bot, chat_id: int, text: str) -> bool:
    """Send ``text`` to ``chat_id``; return whether Telegram accepted it."""
    try:
        await bot.send_message(chat_id, text, parse_mode=None)
    except (TelegramAPIError, TelegramNetworkError) as exc:
        log.warning("send_failed", chat_id=chat_id, error=type(exc).__name__, detail=str(exc))
        return False
    return True
