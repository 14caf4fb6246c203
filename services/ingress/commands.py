"""Quick commands, answered straight from the API and never through the PO.

``/projects``, ``/servers`` and ``/tasks`` ask the API on behalf of the user
(``X-Telegram-ID``), so the API scopes the answer; ``/help`` and ``/start``
show a fixed text, with the quick-action keyboard (``keyboard_sessions``).
Neither offers ``/servers`` to a non-admin (nor does the command menu); one
who types it is still answered, with the API's 403 put in words.
Lists are HTML with every API string escaped (``formatting``), a page at a
time with ◀ / ▶ buttons when long (``lists``, ``callbacks``). The keyboard's
buttons run these same handlers (``buttons``).

Unknown commands (``/foo``) are answered here with the help text and are
NOT forwarded to the PO: someone typing a slash command expects the bot to
act on it, and spending the PO's tokens on a typo helps nobody. Plain text
that merely starts with a slash but is not command-shaped (``/ hi``,
``/путь``) is a chat message like any other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiogram import Bot, Router
from aiogram.filters import Command, CommandStart
from aiogram.types import BotCommand, Message

from services.ingress import lists
from services.ingress.filters import CommandShaped, PrivateChat
from services.ingress.keyboard_sessions import KeyboardSessions
from services.ingress.lists import ListSpec
from services.ingress.outbox import Outbox
from shared.api import ApiClient, ApiError
from shared.log import get_logger
from shared.schemas import User
from shared.texts import Texts, every_language, for_language

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


async def register_menus(bot: Bot, default_language: str) -> int:
    """The command menu of every language (``language_code``), and the default one (no
    language: users whose language has no catalogue) in ``default_language``; how many were
    set. Telegram shows a user the menu of their language, else the default."""
    changed = int(await register_menu(bot, for_language(None, default_language)))
    for texts in every_language():
        changed += await register_menu(bot, texts, language_code=texts.language)
    return changed


async def register_menu(bot: Bot, texts: Texts, language_code: str | None = None) -> bool:
    """Telegram's command menu (``setMyCommands``), from ``texts.menu``; True if it was set.

    Set only when it differs from what Telegram already has (``getMyCommands``
    for the same scope and language): setting it on every restart has cost
    other bots lockouts of minutes, and restarts are frequent (deploys, crashes).
    One menu per language for everyone (the default scope), so it leaves out the admins'
    ``/servers``: a menu per admin chat would have to follow every change of
    who is an admin, and admins know the command from their ``/help``.
    """
    menu = [BotCommand(command=name, description=text) for name, text in texts.menu.items()]
    language = language_code or ""
    current = await bot.get_my_commands(language_code=language_code)
    if _entries(current) == _entries(menu):
        log.info("command_menu_unchanged", commands=len(menu), language=language)
        return False
    await bot.set_my_commands(menu, language_code=language_code)
    log.info("command_menu_set", commands=len(menu), language=language)
    return True


def _entries(menu: list[BotCommand]) -> list[tuple[str, str]]:
    return [(command.command, command.description) for command in menu]


def help_text(user: User, texts: Texts) -> str:
    """``/help``: with ``/servers`` for admins only (the API answers it 403 to the others)."""
    return texts.help_admin if user.is_admin else texts.help


async def show_help(
    message: Message, keyboards: KeyboardSessions, user: User, texts: Texts
) -> None:
    keyboards.show(message.chat.id, help_text(user, texts), admin=user.is_admin)


ListHandler = Callable[[Message, Outbox, User, ApiClient, Texts], Awaitable[None]]


def list_handler(spec: ListSpec[Any]) -> ListHandler:
    """The handler that answers with ``spec``'s list (aiogram passes it what it names)."""

    async def show(
        message: Message, outbox: Outbox, user: User, api: ApiClient, texts: Texts
    ) -> None:
        await answer_list(spec, message.chat.id, outbox, user, api, texts)

    show.__name__ = show.__qualname__ = f"show_{spec.name}"
    return show


show_projects = list_handler(lists.PROJECTS)
show_servers = list_handler(lists.SERVERS)
show_tasks = list_handler(lists.TASKS)


async def refuse_unknown_command(
    message: Message, outbox: Outbox, user: User, texts: Texts, command: str
) -> None:
    log.info("unknown_command", chat_id=message.chat.id)
    unknown = texts.unknown_command.format(command=command)
    outbox.say(message.chat.id, f"{unknown}\n\n{help_text(user, texts)}")


async def answer_list(
    spec: ListSpec[T],
    chat_id: int,
    outbox: Outbox,
    user: User,
    api: ApiClient,
    texts: Texts,
) -> None:
    """The list's first page as a new message (or why there is none)."""
    try:
        items = await spec.fetch(api, user.telegram_id)
    except ApiError as exc:
        log.warning("quick_command_failed", command=spec.name, error=type(exc).__name__)
        outbox.say(chat_id, spec.failure(exc, texts))
        return
    view = lists.page_view(spec, items, 0, texts)
    log.info("quick_command_answered", command=spec.name, items=len(items), pages=view.pages)
    outbox.say(chat_id, view.text, html=True, reply_markup=view.markup)
