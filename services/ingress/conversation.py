"""Conversation control: ``/stop``, ``/new`` (with its question) and ``/status``.

``/stop`` (or the stop button of a streamed reply, a
``stopped_message_generation`` update) and a confirmed ``/new`` are not
acted on here: they go into the user's ``bot:incoming:{p}`` like a chat
message (``IncomingMessage.kind``), stored before the update is confirmed,
so they keep the user's order and reach the relay that owns the user,
which acts and answers (``services.relay.control``). ``/new`` first asks,
because the PO's context is lost: the answer's buttons carry only yes/no,
and the question's own message id tells the relay which confirmation it is
(pressed twice, or on two ingresses, it starts over once). ``/status`` is answered here, from
Redis (``status``), never through the PO.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import (
    CallbackQuery,
    InaccessibleMessage,
    Message,
    MessageGenerationStopped,
    Update,
)

from services.ingress.batch import IntakeBatch
from services.ingress.callbacks import answer_query, refuse_expired
from services.ingress.filters import CommandShaped, PrivateCallback, PrivateChat
from services.ingress.keyboards import StartOver, StartOverAnswer, start_over_markup
from services.ingress.outbox import Outbox
from services.ingress.status import ConversationState, describe
from shared.log import get_logger
from shared.schemas import STOP_BUTTON_DATA, IncomingMessage, MessageKind, User, new_id
from shared.texts import Texts

log = get_logger(__name__)


def router() -> Router:
    """A fresh router (a router joins one dispatcher only; tests build several)."""
    conversation = Router(name="conversation")
    conversation.message.filter(PrivateChat(), CommandShaped())
    conversation.message.register(stop, Command("stop", ignore_case=True))
    conversation.message.register(ask_start_over, Command("new", ignore_case=True))
    conversation.message.register(show_status, Command("status", ignore_case=True))
    conversation.callback_query.register(start_over, PrivateCallback(), StartOver.filter())
    conversation.callback_query.register(
        stop_pressed, PrivateCallback(), F.data == STOP_BUTTON_DATA
    )
    conversation.stopped_message_generation.register(stop_generation)
    return conversation


async def stop(
    message: Message, user: User, intake: IntakeBatch, event_update: Update, texts: Texts
) -> None:
    where = (message.chat.id, message.message_id)
    _queue(intake, user, event_update, *where, "cancel", "/stop", texts.language)
    log.info("stop_requested", user_id=user.id)


async def stop_pressed(
    query: CallbackQuery, user: User, intake: IntakeBatch, event_update: Update, texts: Texts
) -> None:
    """ "⏹ Стоп" under the relay's "working…" note: ``/stop``."""
    assert query.message is not None  # guaranteed by PrivateCallback
    chat_id = query.message.chat.id
    message_id = query.message.message_id
    _queue(intake, user, event_update, chat_id, message_id, "cancel", "/stop", texts.language)
    log.info("stop_requested", user_id=user.id, via="working_note")
    await answer_query(query)


async def stop_generation(
    event: MessageGenerationStopped,
    user: User,
    intake: IntakeBatch,
    event_update: Update,
    texts: Texts,
) -> None:
    """The stop button of a streamed reply: ``/stop``, pressed on the reply being written."""
    _queue(intake, user, event_update, event.chat.id, 0, "cancel", "/stop", texts.language)
    log.info("stop_requested", user_id=user.id, draft_id=event.draft_id)


async def ask_start_over(message: Message, outbox: Outbox, texts: Texts) -> None:
    outbox.say(message.chat.id, texts.new_confirm, reply_markup=start_over_markup(texts))


async def start_over(
    query: CallbackQuery,
    callback_data: StartOver,
    user: User,
    intake: IntakeBatch,
    outbox: Outbox,
    event_update: Update,
    texts: Texts,
) -> None:
    question = query.message
    if question is None or isinstance(question, InaccessibleMessage):
        await refuse_expired(query, texts)
        return
    chat_id, question_id = question.chat.id, question.message_id
    if callback_data.answer is StartOverAnswer.YES:
        where = (chat_id, question_id)
        _queue(intake, user, event_update, *where, "restart", "/new", texts.language)
        log.info("restart_requested", user_id=user.id, confirm_id=question_id)
        # The question loses its buttons; the relay says what was done.
        outbox.edit(chat_id, question_id, texts.new_confirm)
    else:
        outbox.edit(chat_id, question_id, texts.new_declined)
    await answer_query(query)


async def show_status(
    message: Message, outbox: Outbox, user: User, state: ConversationState, texts: Texts
) -> None:
    snapshot = await state.snapshot(user.id)
    log.info(
        "status_shown",
        user_id=user.id,
        worker_status=snapshot.worker_status or None,
        pending=len(snapshot.waiting_since_ms),
    )
    outbox.say(message.chat.id, describe(snapshot, texts))


def _queue(
    intake: IntakeBatch,
    user: User,
    update: Update,
    chat_id: int,
    message_id: int,
    kind: MessageKind,
    command: str,
    language: str,
) -> None:
    intake.add(
        IncomingMessage(
            user_id=user.id,
            telegram_id=user.telegram_id,
            chat_id=chat_id,
            message_id=message_id,
            text=command,
            update_id=update.update_id,
            timestamp=intake.received_at,
            request_id=new_id(),
            kind=kind,
            confirm_id=message_id if kind == "restart" else 0,
            language=language,
        )
    )
