"""Reactions: the bot's own reaction on a message (``setMessageReaction``).

Checked in the official server's order: ``reaction`` parsed first (its
``can't parse`` texts are the telegram-bot-api's), then the chat and the
message (``message to react not found``), then Telegram's own checks
(``REACTION_INVALID``, ``REACTIONS_TOO_MANY``, ``REACTION_EMPTY``). A call
that gets as far as Telegram's checks spends a send, refused or not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import ApiError, bad_request
from ..params import Params
from ..records import Reaction
from ..wire import JSONDict
from .registry import bot_method

if TYPE_CHECKING:
    from ..fake import FakeTelegram

_SINGLE = (
    "❤ 👍 👎 🔥 🥰 👏 😁 🤔 🤯 😱 🤬 😢 🎉 🤩 🤮 💩 🙏 👌 🕊 🤡 🥱 🥴 😍 "
    "🐳 🌚 🌭 💯 🤣 ⚡ 🍌 🏆 💔 🤨 😐 🍓 🍾 💋 🖕 😈 😴 😭 🤓 👻 👀 🎃 🙈 "
    "😇 😨 🤝 ✍ 🤗 🫡 🎅 🎄 ☃ 💅 🤪 🗿 🆒 💘 🙉 🦄 😘 💊 🙊 😎 👾 🤷 😡"
)
_JOINED = ("❤\u200d🔥", "👨\u200d💻", "🤷\u200d♂", "🤷\u200d♀")  # zero-width-joined
#: The emoji a bot may react with: the Bot API's list for ``ReactionTypeEmoji`` (10.3),
#: spelled as Telegram spells them (no U+FE0F: "❤️" is refused, "❤" accepted).
REACTION_EMOJI = frozenset(_SINGLE.split()) | frozenset(_JOINED)
REACTION_INVALID = "REACTION_INVALID"


@bot_method("setMessageReaction")
async def set_message_reaction(fake: FakeTelegram, params: Params) -> Any:
    reaction = _reaction_types(params)
    chat_id = params.chat_id()
    chat = fake.chat(chat_id)
    message_id = params.integer("message_id") or 0
    if message_id <= 0 or message_id not in chat.messages:
        raise bad_request("message to react not found")
    fake.admit_send(chat_id)
    if not chat.reactions_enabled or any(not _allowed(r) for r in reaction):
        raise bad_request(REACTION_INVALID)
    if len(reaction) > 1:
        # Bots react as users without Premium: one reaction per message.
        raise bad_request("REACTIONS_TOO_MANY")
    if not reaction and message_id not in chat.reactions:
        # Observed on Telegram: removing a reaction the bot never set is refused.
        raise bad_request("REACTION_EMPTY")
    if reaction:
        chat.reactions[message_id] = reaction
    else:
        del chat.reactions[message_id]
    is_big = params.boolean("is_big")
    chat.reaction_history.append(Reaction(message_id, reaction, is_big, fake.clock()))
    fake.notify()
    return True


def _reaction_types(params: Params) -> list[JSONDict]:
    """``reaction`` as the telegram-bot-api parses it; absent or empty means none."""
    if not params.has("reaction"):
        return []
    try:
        value = params.json("reaction")
    except ApiError:
        raise bad_request("can't parse reaction types JSON object") from None
    if not isinstance(value, list):
        raise bad_request("expected an Array of ReactionType")
    types: list[JSONDict] = []
    for item in value:
        if not isinstance(item, dict):
            raise bad_request("can't parse ReactionType: expected an Object")
        kind = item.get("type")
        if not isinstance(kind, str):
            raise bad_request("can't parse ReactionType: Can't find field \"type\"")
        if kind == "emoji" and not isinstance(item.get("emoji"), str):
            raise bad_request("can't parse ReactionType: Can't find field \"emoji\"")
        if kind == "custom_emoji" and "custom_emoji_id" not in item:
            raise bad_request("can't parse ReactionType: Can't find field \"custom_emoji_id\"")
        if kind not in ("emoji", "custom_emoji"):
            raise bad_request("can't parse ReactionType: invalid reaction type specified")
        types.append({k: item[k] for k in ("type", "emoji", "custom_emoji_id") if k in item})
    return types


def _allowed(reaction: JSONDict) -> bool:
    # No fake chat allows custom emoji reactions, so only the listed emoji pass.
    return reaction["type"] == "emoji" and reaction["emoji"] in REACTION_EMOJI
