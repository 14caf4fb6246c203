"""Whitelist authentication: an outer middleware that runs before any handler.

A sender is known only when the API's answer holds a user with their exact
Telegram id (``ApiClient.find_user`` checks; ``UserDirectory`` caches).
Known users' updates go on with ``user`` (the API's ``User``) in the
handler data; for anyone else nothing else happens: no stream entry, no
worker, no further API call. When the API cannot answer, the update fails
closed: the person is told the service is unavailable, nothing is forwarded,
and the error is not cached.

Strangers are told once per cache period, in their private chat, and all
of them together at most ``AUTH_REJECTIONS_PER_S`` times a second, so a
crowd of new ids cannot spend the bot's Telegram budget. Nothing from here
is ever posted in a group. The details (buttons, group chats, what counts
as told): ``docs/ARCHITECTURE.md``, "Ingress handlers".

With ``ACCESS_REQUESTS`` on, the rejection carries a "request access"
button, a stranger who asked already gets a reminder instead, and the
button's press is the one stranger's update let through to a handler
(``access``; "Access requests" in ``docs/ARCHITECTURE.md``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.enums import ChatType
from aiogram.types import Chat, TelegramObject, Update
from aiogram.types import User as TelegramUser

from services.ingress.access import AccessDesk, Standing
from services.ingress.access_store import REMINDER_S
from services.ingress.batch import IntakeBatch
from services.ingress.callbacks import answer_query
from services.ingress.directory import Clock, TtlCache, UserDirectory
from services.ingress.keyboards import REMOVE_KEYBOARD
from services.ingress.outbox import Mark, Outbox
from shared.access.records import reminded_key
from shared.api import ApiError
from shared.log import get_logger
from shared.metrics import Metrics
from shared.sending.pieces import ReplyMarkup
from shared.texts import Texts

log = get_logger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]

REJECTION_BURST = 10


class RateLimit:
    """A token bucket: ``rate`` events a second on average, ``burst`` at once."""

    def __init__(self, rate: float, burst: int, clock: Clock = time.monotonic) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._clock = clock
        self._updated = clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class Rejections:
    """Which strangers to tell now: each at most once per ``told_ttl_s``, all within ``budget``.

    A stranger counts as told only once the rejection was added to a private
    chat's answers, and stops counting if that answer is never stored (the
    update comes again, and is answered again). A group message tells no one.
    """

    def __init__(
        self, budget: RateLimit, *, told_ttl_s: float, max_size: int, clock: Clock = time.monotonic
    ) -> None:
        self._budget = budget
        self._told_ttl_s = told_ttl_s
        self._told: TtlCache[int, bool] = TtlCache(max_size, clock)

    def told(self, telegram_id: int) -> bool:
        return self._told.get(telegram_id)[0]

    def tell(self, telegram_id: int) -> bool:
        """Whether to tell ``telegram_id`` now (then counted as told); False past the budget."""
        if not self._budget.take():
            return False
        self._told.put(telegram_id, True, self._told_ttl_s)
        return True

    def forget(self, telegram_id: int) -> None:
        self._told.pop(telegram_id)


class AuthMiddleware(BaseMiddleware):
    def __init__(
        self,
        directory: UserDirectory,
        rejections: Rejections,
        metrics: Metrics | None = None,
        access: AccessDesk | None = None,
    ) -> None:
        self._directory = directory
        self._rejections = rejections
        self._metrics = metrics or Metrics("ingress")
        self._access = access
        """Set while ``ACCESS_REQUESTS`` is on: strangers may ask for access (``access``)."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        sender_id = _person(event, data)
        if sender_id is None:
            # Unknown update types land here too: no person, nothing to answer.
            log.info("update_ignored", update_id=_update_id(event), reason="no_sender")
            self._metrics.update_rejected("no_sender")
            return None
        try:
            lookup = await self._directory.lookup(sender_id)
        except ApiError as exc:
            log.warning("auth_unavailable", telegram_id=sender_id, error=type(exc).__name__)
            self._metrics.update_rejected("auth_unavailable")
            texts: Texts = data["texts"]
            await self._answer_query(event, texts.service_unavailable)
            await self._tell(data, texts.service_unavailable)
            return None
        if lookup.user is None:
            if self._access is not None and self._access.lets_through(event, sender_id):
                # The one stranger's update a handler takes: a press of the request
                # button (``access``), or an env admin's press on a card (``access_admin``).
                return await handler(event, data)
            self._metrics.update_rejected("stranger")
            await self._answer_query(event, data["texts"].access_denied)
            await self._reject(
                sender_id, fresh=lookup.fresh, event=event, chat=data.get("event_chat"), data=data
            )
            return None
        data["user"] = lookup.user
        return await handler(event, data)

    @staticmethod
    async def _answer_query(event: TelegramObject, text: str) -> None:
        if isinstance(event, Update) and event.callback_query is not None:
            await answer_query(event.callback_query, text)

    async def _reject(
        self,
        telegram_id: int,
        *,
        fresh: bool,
        event: TelegramObject,
        chat: Chat | None,
        data: dict[str, Any],
    ) -> None:
        if chat is not None and chat.type != ChatType.PRIVATE:
            # Not posted: a stranger's id is nothing for a whole group to read.
            # Logged once per lookup; nobody was told.
            if fresh:
                log.info(
                    "user_rejected",
                    telegram_id=telegram_id,
                    chat_id=chat.id,
                    chat_type=chat.type,
                    notified=False,
                )
            return
        access = self._access
        if self._rejections.told(telegram_id):
            log.debug("user_rejected_again", telegram_id=telegram_id)
            if access is not None:
                await access.remember(event, telegram_id)
            return
        standing: Standing = "unknown"
        if access is not None and chat is not None:
            standing = await access.standing(event, telegram_id)
        notify = self._rejections.tell(telegram_id)
        if notify:
            batch: IntakeBatch = data["intake"]
            batch.if_discarded(lambda: self._rejections.forget(telegram_id))
        if standing == "pending":
            # They asked already: a reminder, at most once an hour (the mark, set as it
            # goes out, holds across replicas), never the rejection again.
            log.info("access_reminder", telegram_id=telegram_id, notified=notify)
            if notify:
                mark = Mark(reminded_key(telegram_id), REMINDER_S, only_if_new=True)
                await self._tell(data, data["texts"].access_request_pending, mark=mark)
            return
        log.info("user_rejected", telegram_id=telegram_id, notified=notify)
        if not notify:
            return
        rejection = self._rejection(telegram_id, data["texts"])
        if access is not None and standing == "open":
            await self._tell(data, rejection, access.ask_markup(data["texts"]))
            return
        await self._tell(data, rejection, REMOVE_KEYBOARD)
        if access is not None and standing == "keyboard":
            await access.keyboard_removed(telegram_id)

    async def _tell(
        self,
        data: dict[str, Any],
        text: str,
        reply_markup: ReplyMarkup | None = None,
        mark: Mark | None = None,
    ) -> None:
        """Say ``text`` in the update's chat, if it is a private one."""
        chat: Chat | None = data.get("event_chat")
        if chat is not None and chat.type == ChatType.PRIVATE:
            outbox: Outbox = data["outbox"]
            outbox.say(chat.id, text, reply_markup=reply_markup, mark=mark)

    @staticmethod
    def _rejection(telegram_id: int, texts: Texts) -> str:
        second = texts.access_denied_id.format(telegram_id=telegram_id)
        return f"{texts.access_denied}\n{second}"


def _person(event: TelegramObject, data: dict[str, Any]) -> int | None:
    """The Telegram id of the person behind the update; None: there is none.

    A stop pressed on a streamed reply (``stopped_message_generation``) names
    only its chat: in a private chat, whose id is its user's.
    """
    sender: TelegramUser | None = data.get("event_from_user")
    if sender is not None:
        return sender.id
    stopped = event.stopped_message_generation if isinstance(event, Update) else None
    if stopped is not None and stopped.chat.type == ChatType.PRIVATE:
        return stopped.chat.id
    return None


def _update_id(event: TelegramObject) -> int | None:
    return event.update_id if isinstance(event, Update) else None
