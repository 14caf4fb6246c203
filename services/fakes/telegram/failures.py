"""Scripted failures: what the fake answers instead of (or before) a call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import msgspec

from .errors import ApiError, too_many_requests
from .params import Params
from .wire import JSONDict

FailureKind = Literal["retry_after", "server_error", "slow", "drop", "error"]

NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_SERVER_ERRORS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


@dataclass(frozen=True)
class Failure:
    """What to do instead of (or before) answering a call; build with the classmethods."""

    kind: FailureKind
    retry_after: int = 0
    status: int = 0
    description: str = ""
    parameters: JSONDict | None = None
    delay: float = 0.0
    html: bool = False
    after_processing: bool = False

    @classmethod
    def too_many_requests(cls, retry_after: int) -> Failure:
        """429 ``Too Many Requests: retry after N`` with ``parameters.retry_after``."""
        return cls("retry_after", retry_after=retry_after)

    @classmethod
    def server_error(cls, status: int = 500, *, html: bool = False) -> Failure:
        """5xx with Telegram's JSON body, or (``html=True``) nginx's HTML page as seen on 502."""
        return cls("server_error", status=status, html=html)

    @classmethod
    def slow(cls, delay: float) -> Failure:
        """Wait ``delay`` seconds, then handle the call normally (it takes effect)."""
        return cls("slow", delay=delay)

    @classmethod
    def drop(cls, *, after_processing: bool = False) -> Failure:
        """Close the connection without answering, before or after the call takes effect."""
        return cls("drop", after_processing=after_processing)

    @classmethod
    def error(cls, status: int, description: str, parameters: JSONDict | None = None) -> Failure:
        """Any error answer, e.g. ``Failure.error(403, "Forbidden: bot was kicked")``."""
        return cls("error", status=status, description=description, parameters=parameters)

    @classmethod
    def from_json(cls, data: JSONDict) -> Failure:
        """Build from the control API's JSON (``{"kind": "slow", "delay": 2}`` ...)."""
        return msgspec.convert(data, cls)


def failure_error(failure: Failure) -> ApiError:
    """The error answer of a failure that is one (429, JSON 5xx, any error)."""
    if failure.kind == "retry_after":
        return too_many_requests(failure.retry_after)
    if failure.kind == "server_error":
        return ApiError(failure.status, _SERVER_ERRORS.get(failure.status, "Internal Server Error"))
    return ApiError(failure.status, failure.description, failure.parameters)


@dataclass
class _ScriptedFailure:
    method: str
    failure: Failure
    remaining: int
    chat_id: int | None

    def matches(self, method: str, params: Params) -> bool:
        if self.method != method.lower() or self.remaining <= 0:
            return False
        return self.chat_id is None or str(params.raw.get("chat_id")) == str(self.chat_id)


class ScriptedFailures:
    """Failures waiting for the calls they are meant for, first scripted first used."""

    def __init__(self) -> None:
        self._scripted: list[_ScriptedFailure] = []

    def add(self, method: str, failure: Failure, times: int, chat_id: int | None) -> None:
        self._scripted.append(_ScriptedFailure(method.lower(), failure, times, chat_id))

    def clear(self) -> None:
        self._scripted.clear()

    @property
    def left(self) -> int:
        return sum(scripted.remaining for scripted in self._scripted)

    def take(self, method: str, params: Params) -> Failure | None:
        """The failure for this call, if one is scripted; it is used up by taking it."""
        for scripted in self._scripted:
            if scripted.matches(method, params):
                scripted.remaining -= 1
                if scripted.remaining <= 0:
                    self._scripted.remove(scripted)
                return scripted.failure
        return None
