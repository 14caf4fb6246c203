"""Quick commands, answered straight from the API and never through the PO.

``/projects``, ``/servers`` and ``/tasks`` ask the API on behalf of the user
(``X-Telegram-ID``), so the API scopes the answer; ``/help`` and ``/start``
show a fixed text. Lists are HTML with every API string escaped
(``formatting``), split into several messages when long.

Unknown commands (``/foo``) are answered here with the help text and are
NOT forwarded to the PO: someone typing a slash command expects the bot to
act on it, and spending the PO's tokens on a typo helps nobody. Plain text
that merely starts with a slash but is not command-shaped (``/ hi``,
``/путь``) is a chat message like any other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from aiogram import Bot, Router
from aiogram.filters import Command, CommandStart
from aiogram.types import BotCommand, Message

from services.ingress import formatting
from services.ingress.filters import CommandShaped, PrivateChat
from services.ingress.outbox import Outbox
from shared.api import ApiClient, ApiError, ApiForbidden
from shared.log import get_logger
from shared.schemas import User
from shared.texts import Texts

log = get_logger(__name__)

T = TypeVar("T")


def router() -> Router:
    """A fresh router (a router joins one dispatcher only; tests build several)."""
    commands = Router(name="commands")
    # Checked once per message: plain text skips every command filter below.
    commands.message.filter(PrivateChat(), CommandShaped())
    commands.message.register(show_help, CommandStart())
    commands.message.register(show_help, Command("help", ignore_case=True))
    commands.message.register(show_projects, Command("projects", ignore_case=True))
    commands.message.register(show_servers, Command("servers", ignore_case=True))
    commands.message.register(show_tasks, Command("tasks", ignore_case=True))
    # Last: a command none of the above took.
    commands.message.register(refuse_unknown_command)
    return commands


async def register_menu(bot: Bot, texts: Texts) -> None:
    """Telegram's command menu (``setMyCommands``), from ``texts.menu``."""
    menu = [BotCommand(command=name, description=text) for name, text in texts.menu.items()]
    await bot.set_my_commands(menu)


async def show_help(message: Message, outbox: Outbox, texts: Texts) -> None:
    outbox.say(message.chat.id, texts.help)


async def show_projects(
    message: Message, outbox: Outbox, user: User, api: ApiClient, texts: Texts
) -> None:
    await _answer_list(
        outbox,
        message.chat.id,
        texts,
        "projects",
        lambda: api.list_projects(user.telegram_id),
        formatting.project_block,
    )


async def show_servers(
    message: Message, outbox: Outbox, user: User, api: ApiClient, texts: Texts
) -> None:
    await _answer_list(
        outbox,
        message.chat.id,
        texts,
        "servers",
        lambda: api.list_servers(user.telegram_id),
        formatting.server_block,
        forbidden=texts.admins_only,
    )


async def show_tasks(
    message: Message, outbox: Outbox, user: User, api: ApiClient, texts: Texts
) -> None:
    await _answer_list(
        outbox,
        message.chat.id,
        texts,
        "tasks",
        lambda: api.list_tasks(user.telegram_id, status="running"),
        formatting.task_block,
    )


async def refuse_unknown_command(
    message: Message, outbox: Outbox, texts: Texts, command: str
) -> None:
    log.info("unknown_command", chat_id=message.chat.id)
    outbox.say(message.chat.id, f"{texts.unknown_command.format(command=command)}\n\n{texts.help}")


async def _answer_list(
    outbox: Outbox,
    chat_id: int,
    texts: Texts,
    kind: str,
    fetch: Callable[[], Awaitable[Sequence[T]]],
    render: Callable[[T, Texts], str],
    *,
    forbidden: str | None = None,
) -> None:
    try:
        items = await fetch()
    except ApiError as exc:
        log.warning("quick_command_failed", command=kind, error=type(exc).__name__)
        reply = texts.service_unavailable
        if isinstance(exc, ApiForbidden) and forbidden is not None:
            reply = forbidden
        outbox.say(chat_id, reply)
        return
    log.info("quick_command_answered", command=kind, items=len(items))
    for text in formatting.render_list(kind, items, render, texts):
        outbox.say(chat_id, text, html=True)
