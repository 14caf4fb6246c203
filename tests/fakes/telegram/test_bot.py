"""The bot itself: its command menus, one per scope and language, as Telegram keeps them."""

from __future__ import annotations

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import GetMyCommands
from aiogram.types import BotCommand, BotCommandScopeAllPrivateChats, BotCommandScopeChat

from services.fakes.telegram import FakeTelegram


async def test_commands_can_be_set_read_and_deleted(bot: Bot) -> None:
    commands = [
        BotCommand(command="start", description="Start"),
        BotCommand(command="help", description="Help"),
    ]

    assert await bot.set_my_commands(commands)
    assert [(c.command, c.description) for c in await bot.get_my_commands()] == [
        ("start", "Start"),
        ("help", "Help"),
    ]
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad-Name", description="x")])


MENU = [BotCommand(command="new", description="Начать заново")]


def commands_of(listed: list[BotCommand]) -> list[tuple[str, str]]:
    return [(c.command, c.description) for c in listed]


async def test_each_scope_and_language_has_a_menu_of_its_own(bot: Bot) -> None:
    private = BotCommandScopeAllPrivateChats()
    await bot.set_my_commands(MENU, scope=private, language_code="ru")

    assert commands_of(await bot.get_my_commands(scope=private, language_code="ru")) == [
        ("new", "Начать заново")
    ]
    assert await bot.get_my_commands(scope=private) == []
    assert await bot.get_my_commands(language_code="ru") == []


async def test_a_chat_scope_names_its_chat_however_the_id_is_spelled(bot: Bot) -> None:
    await bot.set_my_commands(MENU, scope=BotCommandScopeChat(chat_id=42))

    assert await bot.get_my_commands(scope=BotCommandScopeChat(chat_id="42")) != []
    assert await bot.get_my_commands(scope=BotCommandScopeChat(chat_id=43)) == []


async def test_deleting_a_menu_leaves_the_others(bot: Bot) -> None:
    await bot.set_my_commands(MENU)
    await bot.set_my_commands(MENU, language_code="ru")

    assert await bot.delete_my_commands(language_code="ru")

    assert await bot.get_my_commands(language_code="ru") == []
    assert commands_of(await bot.get_my_commands()) == [("new", "Начать заново")]


async def test_an_unknown_scope_type_is_refused(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="Unsupported type specified"):
        await bot.session.make_request(
            bot, GetMyCommands.model_construct(scope={"type": "everyone"})
        )


async def test_the_control_api_counts_set_my_commands_per_menu(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    await bot.set_my_commands(MENU)
    await bot.set_my_commands(MENU)
    await bot.set_my_commands(MENU, language_code="ru")

    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{fake_telegram.control_url}/commands") as response,
    ):
        menus = (await response.json())["result"]

    counted = {(m["scope"]["type"], m["language_code"]): m["set_count"] for m in menus}
    assert counted == {("default", ""): 2, ("default", "ru"): 1}
