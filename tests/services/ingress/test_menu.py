"""The command menu is set only when Telegram's differs: restarts do not set it again."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiogram.types import BotCommand

from services.fakes.telegram import FakeTelegram
from shared import i18n
from shared.texts import RU, for_language
from tests.plugins.telegram import make_bot
from tests.services.ingress.conftest import RunningIngress, StartIngress

DEFAULT_SCOPE = '{"type":"default"}'
DEFAULT_MENU = (DEFAULT_SCOPE, "")
MENUS = 1 + len(i18n.languages())
"""Menus an ingress compares at start: the default one and one per language."""


async def start_and_settle(
    fake_telegram: FakeTelegram, start_ingress: StartIngress, start: int
) -> RunningIngress:
    """Start an ingress (the ``start``-th) and wait until its menu is settled (set or not)."""
    running = await start_ingress()
    await fake_telegram.wait_for_call("getMyCommands", count=start * MENUS)
    # Then it decides, in the background task it names so.
    for task in asyncio.all_tasks():
        if task.get_name() == "command-menu":
            await asyncio.wait_for(task, 10)
    return running


async def restart(
    fake_telegram: FakeTelegram, start_ingress: StartIngress, running: RunningIngress
) -> RunningIngress:
    """A deploy: the running ingress stops, a second one starts against the same Telegram."""
    assert await running.finish() == 0
    return await start_and_settle(fake_telegram, start_ingress, 2)


@pytest.mark.usefixtures("known_user")
async def test_a_restart_does_not_set_an_unchanged_menu_again(
    fake_telegram: FakeTelegram, start_ingress: StartIngress
) -> None:
    first = await start_and_settle(fake_telegram, start_ingress, 1)

    await restart(fake_telegram, start_ingress, first)

    assert len(fake_telegram.calls_to("getMyCommands")) == 2 * MENUS, "each start compares"
    assert fake_telegram.commands_set[DEFAULT_MENU] == 1
    assert [c["command"] for c in fake_telegram.commands[DEFAULT_MENU]] == list(RU.menu)


@pytest.mark.usefixtures("known_user")
async def test_a_menu_that_differs_from_telegrams_is_set_again(
    fake_telegram: FakeTelegram, start_ingress: StartIngress
) -> None:
    first = await start_and_settle(fake_telegram, start_ingress, 1)
    # An older deploy, say, left another menu at Telegram.
    async with make_bot(fake_telegram) as old_bot:
        await old_bot.set_my_commands([BotCommand(command="help", description="Old help")])

    await restart(fake_telegram, start_ingress, first)

    assert fake_telegram.commands_set[DEFAULT_MENU] == 3
    menu: list[dict[str, Any]] = fake_telegram.commands[DEFAULT_MENU]
    assert [(c["command"], c["description"]) for c in menu] == list(RU.menu.items())


@pytest.mark.usefixtures("known_user")
async def test_each_language_has_its_own_menu_and_the_default_one_is_russian(
    fake_telegram: FakeTelegram, start_ingress: StartIngress
) -> None:
    await start_and_settle(fake_telegram, start_ingress, 1)

    def menu(language: str) -> list[tuple[str, str]]:
        return [
            (c["command"], c["description"])
            for c in fake_telegram.commands[(DEFAULT_SCOPE, language)]
        ]

    assert menu("en") == list(for_language("en").menu.items())
    assert menu("ru") == list(RU.menu.items())
    assert menu("") == list(RU.menu.items())
    assert menu("en") != menu("ru")
