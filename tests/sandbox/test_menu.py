"""The "/" menu the page shows a person: the one their Telegram client would pick among the
menus the bot set (``setMyCommands``), in their language."""

from __future__ import annotations

from aiogram import Bot
from aiogram.types import BotCommand, BotCommandScopeAllPrivateChats, BotCommandScopeChat

from services.fakes.telegram import FakeTelegram
from services.sandbox.menu import menu_for

CHAT = 100002


def names(menu: list[dict[str, object]]) -> list[object]:
    return [(entry["command"], entry["description"]) for entry in menu]


async def test_the_menu_in_the_person_s_language_wins_over_the_one_without(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    await bot.set_my_commands([BotCommand(command="help", description="Справка")])
    await bot.set_my_commands([BotCommand(command="help", description="Help")], language_code="en")

    assert names(menu_for(fake_telegram.commands, CHAT, "en")) == [("help", "Help")]
    assert names(menu_for(fake_telegram.commands, CHAT, "ru")) == [("help", "Справка")]
    assert names(menu_for(fake_telegram.commands, CHAT, None)) == [("help", "Справка")]


async def test_a_chat_s_own_menu_wins_over_the_private_chats_and_the_default_one(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    await bot.set_my_commands([BotCommand(command="help", description="everyone")])
    await bot.set_my_commands(
        [BotCommand(command="tasks", description="private")], scope=BotCommandScopeAllPrivateChats()
    )
    await bot.set_my_commands(
        [BotCommand(command="servers", description="mine")], scope=BotCommandScopeChat(chat_id=CHAT)
    )

    assert names(menu_for(fake_telegram.commands, CHAT, "ru")) == [("servers", "mine")]
    assert names(menu_for(fake_telegram.commands, CHAT + 1, "ru")) == [("tasks", "private")]


def test_no_menu_set_is_an_empty_menu(fake_telegram: FakeTelegram) -> None:
    assert menu_for(fake_telegram.commands, CHAT, "en") == []
