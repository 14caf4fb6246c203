"""The bot itself: its command menus."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import BotCommand


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
