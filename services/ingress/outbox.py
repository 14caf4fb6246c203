"""The ingress's one way to say something in a chat.

Every message the ingress sends goes through ``send``, and nothing else in
``services/ingress`` calls ``bot.send_message``: this is the seam where the
shared sender (rate limits, retries, splitting) plugs in. Like
``shared.delivery.send_text`` it never raises into a handler: a failed send
is logged and reported as ``False``, because an answer that could not be
delivered must not stop an update from being confirmed.
"""

from __future__ import annotations

from aiogram import Bot
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError
from aiogram.types import LinkPreviewOptions

from shared.log import get_logger

log = get_logger(__name__)

_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


async def send(bot: Bot, chat_id: int, text: str, *, html: bool = False) -> bool:
    """Send ``text`` (HTML when ``html``, else plain); return whether Telegram accepted it."""
    try:
        await bot.send_message(
            chat_id,
            text,
            parse_mode=ParseMode.HTML if html else None,
            # Repository links in lists would otherwise each unfold a preview.
            link_preview_options=_NO_PREVIEW,
        )
    except (TelegramAPIError, TelegramNetworkError) as exc:
        log.warning("send_failed", chat_id=chat_id, error=type(exc).__name__, detail=str(exc))
        return False
    return True
