"""The method registry: Bot API method names to the handlers that answer them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..params import Params

if TYPE_CHECKING:
    from ..fake import FakeTelegram

Handler = Callable[["FakeTelegram", Params], Awaitable[Any]]


@dataclass(frozen=True)
class MethodSpec:
    name: str
    handler: Handler


METHODS: dict[str, MethodSpec] = {}


def bot_method(name: str) -> Callable[[Handler], Handler]:
    """Register a Bot API method handler under ``name`` (matched case-insensitively).

    A handler gets the fake and the call's :class:`Params`, returns the
    ``result`` value, and raises :class:`ApiError` to answer an error. It
    should call :meth:`FakeTelegram.admit_send` before taking effect if
    Telegram counts it against the send budget.
    """

    def register(handler: Handler) -> Handler:
        METHODS[name.lower()] = MethodSpec(name, handler)
        return handler

    return register
