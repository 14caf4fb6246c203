"""Access requests, the stranger's side: the button under the rejection, and its press.

With ``ACCESS_REQUESTS`` on (:class:`AccessDesk` in the dispatcher's data;
off, there is none and the bot behaves as before), the auth middleware asks
the desk about every stranger it would reject in a private chat
(:meth:`AccessDesk.standing`, one Redis round trip, only when the stranger
is about to be told):

- ``open``: the rejection, its text unchanged, with the inline button
  "🙋 Запросить доступ" (``ar1:ask``) instead of the keyboard removal;
- ``denied`` (a denial's cooldown runs): the rejection as before, no button;
- ``keyboard`` (the chat has a keyboard session: a user just removed): the
  rejection as before, which takes the keyboard away (a message carries
  one markup); the session ends there, so the next rejection has the button;
- ``pending`` (they asked already): instead of the rejection, "your request
  is still pending", at most once per ``REMINDER_S`` (an outbox ``Mark`` on
  ``bot:access:reminded:{id}``, set only as it goes out, so replicas agree).

Groups get nothing, as before. The first thing a stranger writes in their
private chat (text or caption, not a command, trimmed to
``FIRST_MESSAGE_CHARS``) is kept for a day (``SET NX``) for the card.

The middleware lets exactly one kind of stranger's update through to the
routers: a press of ``ar1:ask`` (and admins' card presses from
``ADMIN_TELEGRAM_IDS`` people the API does not know, see
``access_admin``). :func:`ask` opens the request (``AccessStore.ask``) and
tells the stranger; a press while one is pending changes nothing, and a
press during the cooldown is refused. Nothing here writes to the API.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Final, Literal

import msgspec
from aiogram import Router
from aiogram.enums import ChatType
from aiogram.filters import Filter
from aiogram.types import CallbackQuery, TelegramObject, Update
from redis.exceptions import RedisError

from services.ingress.access_store import AccessStore, now_ms
from services.ingress.batch import valid_unicode
from services.ingress.callbacks import answer_query
from services.ingress.directory import UserDirectory
from services.ingress.filters import COMMAND_SHAPE
from services.ingress.keyboards import quick_keyboard
from services.ingress.outbox import Outbox
from shared.access import records
from shared.access.records import AccessRequest
from shared.log import get_logger
from shared.schemas import User
from shared.sending.pieces import ReplyMarkup
from shared.texts import DEFAULT_LANGUAGE, Texts, for_language

log = get_logger(__name__)

DECISION_PREFIX: Final = "ar1:"

Standing = Literal["open", "pending", "denied", "keyboard", "unknown"]


class AccessDesk:
    """What the ingress needs for access requests, shared by the middleware and the handlers."""

    def __init__(
        self,
        store: AccessStore,
        directory: UserDirectory,
        admin_ids: Collection[int] = (),
        default_language: str = DEFAULT_LANGUAGE,
    ) -> None:
        self.default_language = default_language
        self.store = store
        self.directory = directory
        self.admin_ids = frozenset(admin_ids)

    @staticmethod
    def ask_markup(texts: Texts) -> ReplyMarkup:
        """The request button under a stranger's rejection, in their language."""
        button = {"text": texts.access_request_button, "callback_data": records.ASK_DATA}
        return {"inline_keyboard": [[button]]}

    def keyboard(self, language_code: str) -> str:
        """The approved user's quick-action keyboard (reply_markup JSON, for the outcome),
        in the language they asked in (the request's ``language``)."""
        texts = for_language(language_code, self.default_language)
        return msgspec.json.encode(quick_keyboard(texts, admin=False)).decode()

    def lets_through(self, event: TelegramObject, sender_id: int) -> bool:
        """Whether a stranger's update goes on to the routers: the request button's press,
        or an admin's card press by someone in ``ADMIN_TELEGRAM_IDS``."""
        query = event.callback_query if isinstance(event, Update) else None
        if query is None or query.data is None:
            return False
        if query.data == records.ASK_DATA:
            return True
        return query.data.startswith(DECISION_PREFIX) and sender_id in self.admin_ids

    async def standing(self, event: TelegramObject, telegram_id: int) -> Standing:
        """Where a stranger about to be told stands; their first words kept on the way.

        ``unknown`` when Redis cannot say: they get the plain rejection.
        """
        try:
            return await self.store.stranger_state(telegram_id, first_words(event))
        except RedisError as exc:
            log.warning(
                "access_state_unavailable", telegram_id=telegram_id, error=type(exc).__name__
            )
            return "unknown"

    async def keyboard_removed(self, telegram_id: int) -> None:
        try:
            await self.store.keyboard_removed(telegram_id)
        except RedisError as exc:
            log.warning(
                "access_state_unavailable", telegram_id=telegram_id, error=type(exc).__name__
            )

    async def remember(self, event: TelegramObject, telegram_id: int) -> None:
        """Keep a stranger's first words (one not told this time: they may still ask)."""
        words = first_words(event)
        if not words:
            return
        try:
            await self.store.remember_first_message(telegram_id, words)
        except RedisError as exc:
            log.warning(
                "access_state_unavailable", telegram_id=telegram_id, error=type(exc).__name__
            )


def first_words(event: TelegramObject) -> str | None:
    """A private message's text or caption, trimmed; None for anything else or a command."""
    message = event.message if isinstance(event, Update) else None
    if message is None or message.chat.type != ChatType.PRIVATE:
        return None
    words = (message.text or message.caption or "").strip()
    if not words or COMMAND_SHAPE.match(words):
        return None
    # Kept in Redis as UTF-8: a lone surrogate (valid in Telegram's JSON) could not be.
    return valid_unicode(words[: records.FIRST_MESSAGE_CHARS])


class AskPress(Filter):
    async def __call__(self, query: CallbackQuery) -> bool:
        return query.data == records.ASK_DATA


def router() -> Router:
    """A fresh router (a router joins one dispatcher only; tests build several)."""
    access = Router(name="access")
    access.callback_query.register(ask, AskPress())
    return access


async def ask(
    query: CallbackQuery,
    outbox: Outbox,
    access: AccessDesk,
    texts: Texts,
    user: User | None = None,
) -> None:
    """ "🙋 Запросить доступ" pressed: open one request, or say why not."""
    if user is not None:
        await answer_query(query, texts.access_request_known)
        return
    message = query.message
    if message is None or message.chat.type != ChatType.PRIVATE:
        # The button is only ever sent in private chats: this press is forged.
        log.info("access_request_refused", telegram_id=query.from_user.id, reason="not_private")
        await answer_query(query, texts.button_expired)
        return
    sender = query.from_user
    request = AccessRequest(
        rid=records.new_request_id(),
        telegram_id=sender.id,
        chat_id=message.chat.id,
        first_name=valid_unicode(sender.first_name),
        last_name=valid_unicode(sender.last_name or ""),
        username=valid_unicode(sender.username or ""),
        language=valid_unicode(sender.language_code or ""),
        created_ms=now_ms(),
    )
    try:
        outcome, rid = await access.store.ask(request)
    except RedisError as exc:
        log.warning("access_request_failed", telegram_id=sender.id, error=type(exc).__name__)
        await answer_query(query, texts.service_unavailable)
        return
    if outcome == "created":
        log.info("access_requested", telegram_id=sender.id, rid=rid)
        outbox.say(message.chat.id, texts.access_request_sent)
        await answer_query(query)
    elif outcome == "pending":
        log.info("access_request_repeated", telegram_id=sender.id, rid=rid)
        await answer_query(query, texts.access_request_pending)
    else:
        log.info("access_request_refused", telegram_id=sender.id, reason="cooldown")
        await answer_query(query, texts.access_request_cooldown)
