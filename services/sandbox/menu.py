"""The "/" command menu a person's Telegram client shows, from the bot's ``setMyCommands``.

Telegram keeps a menu per scope and language; a private chat's client shows the
first that exists of: this chat's scope, all private chats, the default scope;
in each, the menu in the user's language before the one without a language.
"""

from __future__ import annotations

from collections.abc import Mapping

from services.fakes.telegram.wire import JSONDict, encode

Menus = Mapping[tuple[str, str], list[JSONDict]]
"""The fake Telegram's menus by (scope as JSON, language code)."""


def _scope_key(scope: JSONDict) -> str:
    return encode(scope).decode()


def menu_for(menus: Menus, chat_id: int, language_code: str | None) -> list[JSONDict]:
    """The commands (``command``, ``description``) the client of ``chat_id`` offers."""
    language = (language_code or "")[:2].lower()
    scopes = (
        {"type": "chat", "chat_id": chat_id},
        {"type": "all_private_chats"},
        {"type": "default"},
    )
    for scope in scopes:
        for code in (language, ""):
            commands = menus.get((_scope_key(scope), code))
            if commands:
                return [dict(command) for command in commands]
    return []
