"""The bot itself: who it is (``getMe``) and its command menus."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..errors import bad_request
from ..params import Params
from ..wire import encode
from .registry import bot_method

if TYPE_CHECKING:
    from ..fake import FakeTelegram

_COMMAND = re.compile(r"[a-z0-9_]{1,32}")


@bot_method("getMe")
async def get_me(fake: FakeTelegram, params: Params) -> Any:
    return fake.bot_user


def _commands_key(params: Params) -> tuple[str, str]:
    scope = params.json("scope") or {"type": "default"}
    if not isinstance(scope, dict) or "type" not in scope:
        raise bad_request("can't parse BotCommandScope")
    language = params.string("language_code") or ""
    if language and not re.fullmatch(r"[a-z]{2}", language):
        raise bad_request("invalid language code specified")
    return encode(dict(sorted(scope.items()))).decode(), language


@bot_method("setMyCommands")
async def set_my_commands(fake: FakeTelegram, params: Params) -> Any:
    commands = params.json("commands")
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad_request("can't parse commands JSON object")
    for command in commands:
        if not isinstance(command, dict):
            raise bad_request("can't parse BotCommand")
        if not _COMMAND.fullmatch(str(command.get("command", ""))):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description", ""))) <= 256:
            raise bad_request("command description must be non-empty")
    fake.commands[_commands_key(params)] = [dict(c) for c in commands]
    return True


@bot_method("getMyCommands")
async def get_my_commands(fake: FakeTelegram, params: Params) -> Any:
    return fake.commands.get(_commands_key(params), [])


@bot_method("deleteMyCommands")
async def delete_my_commands(fake: FakeTelegram, params: Params) -> Any:
    fake.commands.pop(_commands_key(params), None)
    return True
