"""setMessageReaction: the bot's reaction on a message, refused as Telegram refuses it."""

from __future__ import annotations

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter
from aiogram.types import ReactionTypeCustomEmoji, ReactionTypeEmoji, ReactionTypeUnion

from services.fakes.telegram import FakeTelegram, FloodLimits
from tests.fakes.telegram import GROUP, PRIVATE


def emoji(*chars: str) -> list[ReactionTypeUnion]:
    return [ReactionTypeEmoji(emoji=char) for char in chars]


EYES = emoji("👀")


def user_message(fake: FakeTelegram, chat_id: int = PRIVATE) -> int:
    return int(fake.inject_message(chat_id, "hello")["message"]["message_id"])


async def test_a_reaction_shows_on_the_users_message(bot: Bot, fake_telegram: FakeTelegram) -> None:
    message_id = user_message(fake_telegram)

    assert await bot.set_message_reaction(PRIVATE, message_id, reaction=EYES)

    [record] = await fake_telegram.wait_for_reaction(PRIVATE, message_id, "👀")
    assert record.reaction == [{"type": "emoji", "emoji": "👀"}]


async def test_a_new_reaction_replaces_the_bots_previous_one(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    message_id = user_message(fake_telegram)
    await bot.set_message_reaction(PRIVATE, message_id, reaction=EYES)

    await bot.set_message_reaction(PRIVATE, message_id, reaction=emoji("👍"))

    assert fake_telegram.chat(PRIVATE).reactions[message_id] == [{"type": "emoji", "emoji": "👍"}]


async def test_an_empty_reaction_list_removes_the_bots_reaction(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    message_id = user_message(fake_telegram)
    await bot.set_message_reaction(PRIVATE, message_id, reaction=EYES)

    assert await bot.set_message_reaction(PRIVATE, message_id, reaction=[])

    history = await fake_telegram.wait_for_reaction(PRIVATE, message_id, None)
    assert [r.reaction for r in history] == [[{"type": "emoji", "emoji": "👀"}], []]


async def test_removing_a_reaction_the_bot_never_set_is_refused(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    message_id = user_message(fake_telegram)

    with pytest.raises(TelegramBadRequest, match="REACTION_EMPTY"):
        await bot.set_message_reaction(PRIVATE, message_id, reaction=[])


async def test_a_reaction_to_an_unknown_message_is_refused(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="Bad Request: message to react not found"):
        await bot.set_message_reaction(PRIVATE, 999, reaction=EYES)


async def test_a_reaction_to_a_deleted_message_is_refused(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    sent = await bot.send_message(PRIVATE, "soon gone")
    await bot.set_message_reaction(PRIVATE, sent.message_id, reaction=EYES)
    await bot.delete_message(PRIVATE, sent.message_id)

    with pytest.raises(TelegramBadRequest, match="message to react not found"):
        await bot.set_message_reaction(PRIVATE, sent.message_id, reaction=EYES)
    assert fake_telegram.chat(PRIVATE).reactions == {}


@pytest.mark.parametrize("char", ["❤️", "🦆", "ok"])
async def test_an_emoji_outside_telegrams_reaction_list_is_refused(
    bot: Bot, fake_telegram: FakeTelegram, char: str
) -> None:
    message_id = user_message(fake_telegram)

    with pytest.raises(TelegramBadRequest, match="Bad Request: REACTION_INVALID"):
        await bot.set_message_reaction(PRIVATE, message_id, reaction=emoji(char))


async def test_a_custom_emoji_reaction_is_refused(bot: Bot, fake_telegram: FakeTelegram) -> None:
    message_id = user_message(fake_telegram)
    custom: list[ReactionTypeUnion] = [ReactionTypeCustomEmoji(custom_emoji_id="5368")]

    with pytest.raises(TelegramBadRequest, match="REACTION_INVALID"):
        await bot.set_message_reaction(PRIVATE, message_id, reaction=custom)


async def test_a_bot_may_set_only_one_reaction_per_message(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    message_id = user_message(fake_telegram)
    two = emoji("👀", "👍")

    with pytest.raises(TelegramBadRequest, match="REACTIONS_TOO_MANY"):
        await bot.set_message_reaction(PRIVATE, message_id, reaction=two)


async def test_a_chat_with_reactions_off_refuses_every_reaction(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    message_id = user_message(fake_telegram, GROUP)
    async with aiohttp.ClientSession() as http:
        url = f"{fake_telegram.control_url}/chats/{GROUP}/reactions"
        async with http.post(url, json={"enabled": False}) as response:
            assert response.status == 200

    with pytest.raises(TelegramBadRequest, match="REACTION_INVALID"):
        await bot.set_message_reaction(GROUP, message_id, reaction=EYES)


async def test_a_reaction_in_a_chat_that_blocked_the_bot_is_forbidden(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    message_id = user_message(fake_telegram)
    fake_telegram.block(PRIVATE)

    with pytest.raises(TelegramForbiddenError):
        await bot.set_message_reaction(PRIVATE, message_id, reaction=EYES)


@pytest.mark.usefixtures("telegram_clock")  # time stands still: no refill
async def test_reactions_spend_the_chats_flood_budget(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.set_flood_limits(FloodLimits(chat_rate=1.0, chat_burst=2, global_limit=None))
    message_id = user_message(fake_telegram)
    await bot.send_message(PRIVATE, "one")
    await bot.set_message_reaction(PRIVATE, message_id, reaction=EYES)

    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(PRIVATE, "over budget")


async def test_the_chat_view_shows_each_messages_bot_reaction(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    reacted, plain = user_message(fake_telegram), user_message(fake_telegram)
    await bot.set_message_reaction(PRIVATE, reacted, reaction=EYES, is_big=True)

    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{fake_telegram.control_url}/chats/{PRIVATE}") as response,
    ):
        messages = {m["message_id"]: m for m in (await response.json())["result"]["messages"]}

    assert messages[reacted]["bot_reaction"] == [{"type": "emoji", "emoji": "👀"}]
    assert "bot_reaction" not in messages[plain]
