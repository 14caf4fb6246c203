"""The bot itself: who it is (``getMe``) and its command menus."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..errors import ApiError, bad_request
from ..params import Params
from ..wire import JSONDict, encode
from .registry import bot_method

if TYPE_CHECKING:
    from ..fake import FakeTelegram

_COMMAND = re.compile(r"[a-z0-9_]{1,32}")


@bot_method("getMe")
async def get_me(fake: FakeTelegram, params: Params) -> Any:
    return fake.bot_user


_SCOPES = frozenset({"default", "all_private_chats", "all_group_chats", "all_chat_administrators"})
_CHAT_SCOPES = frozenset({"chat", "chat_administrators", "chat_member"})


def _commands_key(params: Params) -> tuple[str, str]:
    """The menu a call names: its scope (normalized) and ``language_code``, as Telegram keeps
    them. ``getMyCommands`` reads exactly that menu: no fallback to another language."""
    scope = _scope(params)
    language = params.string("language_code") or ""
    if language and not re.fullmatch(r"[a-z]{2}", language):
        raise bad_request("invalid language code specified")
    return encode(scope).decode(), language


def _scope(params: Params) -> JSONDict:
    """``scope`` read as the telegram-bot-api reads it (its error texts), only its own fields."""
    if not params.has("scope"):
        return {"type": "default"}
    try:
        scope = params.json("scope")
    except ApiError:
        raise bad_request("can't parse BotCommandScope JSON object") from None
    if not isinstance(scope, dict):
        raise bad_request("can't parse BotCommandScope: BotCommandScope must be an Object")
    kind = scope.get("type")
    if not isinstance(kind, str):
        raise bad_request("can't parse BotCommandScope: Can't find field \"type\"")
    if kind in _SCOPES:
        return {"type": kind}
    if kind not in _CHAT_SCOPES:
        raise bad_request("can't parse BotCommandScope: Unsupported type specified")
    chat_id = str(scope.get("chat_id", ""))
    if not chat_id:
        raise bad_request("can't parse BotCommandScope: Empty chat_id specified")
    try:
        normalized: JSONDict = {"type": kind, "chat_id": int(chat_id)}
    except ValueError:
        raise bad_request("chat not found") from None  # '@username': none known here
    if kind == "chat_member":
        user_id = scope.get("user_id")
        if not isinstance(user_id, int) or user_id <= 0:
            raise bad_request("can't parse BotCommandScope: Invalid user_id specified")
        normalized["user_id"] = user_id
    return normalized


@bot_method("setMyCommands")
async def set_my_commands(fake: FakeTelegram, params: Params) -> Any:
    commands = params.json("commands") if params.has("commands") else []
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad_request("can't parse commands JSON object")
    for command in commands:
        if not isinstance(command, dict):
            raise bad_request("can't parse BotCommand: expected an Object")
        if not _COMMAND.fullmatch(str(command.get("command", ""))):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description", ""))) <= 256:
            raise bad_request("command description must be non-empty")
    key = _commands_key(params)
    if commands:
        fake.commands[key] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
    else:
        fake.commands.pop(key, None)  # an empty list is a deletion, as on Telegram
    fake.commands_set[key] += 1
    fake.notify()
    return True


@bot_method("getMyCommands")
async def get_my_commands(fake: FakeTelegram, params: Params) -> Any:
    return fake.commands.get(_commands_key(params), [])


@bot_method("deleteMyCommands")
async def delete_my_commands(fake: FakeTelegram, params: Params) -> Any:
    fake.commands.pop(_commands_key(params), None)
    fake.notify()
    return True
