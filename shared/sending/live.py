"""A reply shown while it is being written (drafts, or one edited preview), then sent for good."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from redis.exceptions import RedisError

from shared.log import get_logger
from shared.ratelimit import is_group
from shared.sending.pieces import ReplyMarkup
from shared.sending.results import SendResult
from shared.telegram import TelegramError

if TYPE_CHECKING:
    from shared.sending.sender import Sender

log = get_logger(__name__)

PREVIEW_PREFIX: Final = "bot:preview:"
PREVIEW_TTL_S: Final = 60 * 60


class LiveReply:
    """A reply shown while it is being written, then sent for good.

    ``update(text)`` takes the whole reply so far (a snapshot, not a delta)
    and shows it if the budget is free right now: as a draft in a private
    chat, as one preview message edited in place in a group. ``finish(text)``
    always sends the final text with ``sendMessage`` (never leaving a
    preview as its only copy), then deletes a group's preview message. The
    preview message's id is kept in Redis (``bot:preview:{chat}:{draft}``),
    so a process that takes the work over after a crash edits or deletes
    the same message instead of leaving it behind. Once Telegram showed a
    preview or delivered the final text, a Redis error in that bookkeeping
    is logged, not raised.
    """

    def __init__(
        self,
        sender: Sender,
        chat_id: int,
        draft_id: int,
        *,
        key: str | None = None,
        markdown: bool = True,
    ) -> None:
        if draft_id == 0:
            raise ValueError("draft_id must be non-zero")
        self.sender = sender
        self.chat_id = chat_id
        self.draft_id = draft_id
        self.key = key
        self.markdown = markdown
        self._shown: str | None = None
        self._message_id: int | None = None

    @property
    def redis_key(self) -> str:
        return f"{PREVIEW_PREFIX}{self.chat_id}:{self.draft_id}"

    async def update(self, text: str) -> bool:
        """Show ``text`` now if the budget allows; whether it is on screen."""
        if text == self._shown:
            return True
        if is_group(self.chat_id):
            shown = await self._update_group(text)
        else:
            shown = await self.sender.preview(
                self.chat_id, self.draft_id, text, markdown=self.markdown
            )
        if shown:
            self._shown = text
        return shown

    async def finish(self, text: str, *, reply_markup: ReplyMarkup | None = None) -> SendResult:
        """Send the final ``text`` with ``sendMessage``; then clear a group's preview."""
        result = await self.sender.send(
            self.chat_id, text, key=self.key, markdown=self.markdown, reply_markup=reply_markup
        )
        if result.delivered and is_group(self.chat_id):
            await self._delete_preview()
        return result

    async def _update_group(self, text: str) -> bool:
        message_id = await self._preview_id()
        if message_id is None:
            message_id = await self.sender.preview_message(
                self.chat_id, text, markdown=self.markdown
            )
            if message_id is None:
                return False
            self._message_id = message_id
            try:
                await self.sender.redis.set(self.redis_key, message_id, ex=PREVIEW_TTL_S)
            except RedisError as exc:
                log.warning("preview_record_failed", chat_id=self.chat_id, error=type(exc).__name__)
            return True
        return await self.sender.preview_edit(
            self.chat_id, message_id, text, markdown=self.markdown
        )

    async def _preview_id(self) -> int | None:
        if self._message_id is not None:
            return self._message_id
        raw = await self.sender.redis.get(self.redis_key)
        return None if raw is None else int(raw)

    async def _delete_preview(self) -> None:
        try:
            message_id = await self._preview_id()
        except RedisError as exc:
            log.warning("preview_delete_failed", chat_id=self.chat_id, error=type(exc).__name__)
            return
        if message_id is None:
            return
        try:
            await self.sender.client.delete_message(self.chat_id, message_id)
        except TelegramError as exc:
            # Best effort: the final text is out; a leftover preview is cosmetic.
            log.info("preview_delete_failed", chat_id=self.chat_id, error=type(exc).__name__)
        self._message_id = None
        try:
            await self.sender.redis.delete(self.redis_key)
        except RedisError as exc:
            log.warning("preview_forget_failed", chat_id=self.chat_id, error=type(exc).__name__)
