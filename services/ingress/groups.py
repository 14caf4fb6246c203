"""Groups, supergroups and channels: the bot works in private chats only.

A message with words in it gets a short explanation; service messages
(someone joined, a pin) get nothing, so adding the bot to a group does not
make it chatter. Nothing from here is forwarded. Only known users get
here: a stranger's group update was stopped by ``auth``, which posts
nothing in a group.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.types import Message

from services.ingress.filters import HasWords, PrivateChat
from services.ingress.outbox import Outbox
from shared.log import get_logger
from shared.texts import Texts

log = get_logger(__name__)


def router() -> Router:
    """A fresh router (a router joins one dispatcher only; tests build several)."""
    groups = Router(name="groups")
    groups.message.filter(PrivateChat(private=False))
    groups.message.register(explain_private_only, HasWords())
    return groups


async def explain_private_only(message: Message, outbox: Outbox, texts: Texts) -> None:
    log.info("not_a_private_chat", chat_id=message.chat.id, chat_type=message.chat.type)
    outbox.say(message.chat.id, texts.private_only)
