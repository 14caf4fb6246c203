"""Inline buttons pressed under the bot's lists: page turns and project details.

Every callback query is answered (``answerCallbackQuery``, so the client
stops its spinner), with a short notice when something is wrong, and only
known users get here (the auth middleware runs for callback queries as for
messages, and answers a stranger's press with the rejection).

- ◀ / ▶ (``keyboards.ListPage``): the list is fetched again with the
  presser's ``X-Telegram-ID`` and the same message is edited into the asked
  page, through the outbox (``Outbox.edit``: the chat's order and flood
  budget, never awaited here).
- a project's button (``keyboards.ProjectCard``): its details as a new
  message, from ``GET /api/projects/{id}`` or else the presser's list
  (``backend.IngressApi.project``); a project the presser cannot see is
  "expired", whoever's id the button carries.
- anything else (data from an older version, forged, unparseable, from a
  group, or a list message too old to edit): "this button has expired".
  Nothing is fetched and nothing else happens.

The answer itself is awaited (it is not a chat message and takes no flood
budget), for at most ``ANSWER_TIMEOUT_S``; a failure (the query is too old,
Telegram is away) is logged and the update goes on.
"""

from __future__ import annotations

import asyncio
from typing import Final

from aiogram import Router
from aiogram.exceptions import AiogramError
from aiogram.types import CallbackQuery, InaccessibleMessage

from services.ingress import formatting
from services.ingress.backend import IngressApi
from services.ingress.filters import PrivateCallback
from services.ingress.keyboards import ListPage, ProjectCard
from services.ingress.lists import LISTS, page_view
from services.ingress.outbox import Outbox
from shared.api import ApiClient, ApiError, ApiForbidden
from shared.log import get_logger
from shared.schemas import User
from shared.texts import Texts

log = get_logger(__name__)

ANSWER_TIMEOUT_S: Final = 5.0


def router() -> Router:
    """A fresh router (a router joins one dispatcher only; tests build several)."""
    callbacks = Router(name="callbacks")
    callbacks.callback_query.register(turn_page, PrivateCallback(), ListPage.filter())
    callbacks.callback_query.register(open_project, PrivateCallback(), ProjectCard.filter())
    # Last: whatever the above did not take.
    callbacks.callback_query.register(refuse_expired)
    return callbacks


async def turn_page(
    query: CallbackQuery,
    callback_data: ListPage,
    outbox: Outbox,
    user: User,
    api: ApiClient,
    texts: Texts,
) -> None:
    message = query.message
    if message is None or isinstance(message, InaccessibleMessage):
        await refuse_expired(query, texts)
        return
    spec = LISTS[callback_data.kind]
    try:
        items = await spec.fetch(api, user.telegram_id)
    except ApiError as exc:
        log.warning("page_failed", command=spec.name, error=type(exc).__name__)
        await answer_query(query, spec.failure(exc, texts))
        return
    view = page_view(spec, items, callback_data.page, texts)
    log.info("page_turned", command=spec.name, page=view.number, pages=view.pages)
    outbox.edit(message.chat.id, message.message_id, view.text, html=True, reply_markup=view.markup)
    await answer_query(query)


async def open_project(
    query: CallbackQuery,
    callback_data: ProjectCard,
    outbox: Outbox,
    user: User,
    api: IngressApi,
    texts: Texts,
) -> None:
    assert query.message is not None  # guaranteed by PrivateCallback
    try:
        project = await api.project(user.telegram_id, callback_data.id)
    except ApiForbidden:
        project = None
    except ApiError as exc:
        log.warning("project_failed", error=type(exc).__name__)
        await answer_query(query, texts.service_unavailable)
        return
    if project is None:
        log.info("project_not_found", telegram_id=user.telegram_id)
        await answer_query(query, texts.button_expired)
        return
    log.info("project_shown")
    outbox.say(query.message.chat.id, formatting.project_card(project, texts), html=True)
    await answer_query(query)


async def refuse_expired(query: CallbackQuery, texts: Texts) -> None:
    log.info("button_expired", telegram_id=query.from_user.id)
    await answer_query(query, texts.button_expired)


async def answer_query(query: CallbackQuery, text: str | None = None) -> None:
    """``answerCallbackQuery``, with ``text`` as a notice; a failure is logged, not raised."""
    try:
        async with asyncio.timeout(ANSWER_TIMEOUT_S):
            await query.answer(text=text)
    except (AiogramError, TimeoutError) as exc:
        log.info("callback_answer_failed", error=type(exc).__name__)
