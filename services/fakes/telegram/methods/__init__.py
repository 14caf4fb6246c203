"""The Bot API methods the fake serves, one ``async def`` each, grouped by what they touch.

A new method is one function decorated with :func:`bot_method` in the module
of its group (or a new module imported here); it gets the fake and the
call's :class:`Params`, returns the ``result`` and raises ``ApiError``.
"""

from . import bot, callbacks, files, media, messages, reactions, rich, updates
from .registry import METHODS, Handler, MethodSpec, bot_method

__all__ = [
    "METHODS",
    "Handler",
    "MethodSpec",
    "bot",
    "bot_method",
    "callbacks",
    "files",
    "media",
    "messages",
    "reactions",
    "rich",
    "updates",
]
