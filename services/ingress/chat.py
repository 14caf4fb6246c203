"""Chat messages from known users: queued for the relays, never answered here."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import Message, Update

from services.ingress.intake import Intake
from shared.schemas import IncomingMessage, User

router = Router(name="chat")


@router.message(F.chat.type == "private", F.text)
async def queue_text(message: Message, user: User, intake: Intake, event_update: Update) -> None:
    assert message.text is not None  # guaranteed by the F.text filter
    await intake.push(
        IncomingMessage(
            user_id=user.id,
            telegram_id=user.telegram_id,
            chat_id=message.chat.id,
            message_id=message.message_id,
            text=message.text,
            update_id=event_update.update_id,
        )
    )
