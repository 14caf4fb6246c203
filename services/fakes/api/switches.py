"""The fake API's switches, read on every request so a test can flip them at any time.

- ``down``: every request is answered by resetting the connection;
- ``slow``: seconds to wait before answering;
- ``delay_next(path, seconds)``: the next request to exactly ``path`` waits
  that long before it is answered (one request: a slow auth for one update);
- ``fail_with``: an HTTP status (500, 502, 503...) answered to everything;
- ``users_query_ignored``: ``GET /api/users?telegram_id=`` returns every user,
  as one deployed version does;
- ``users_as_object``: that query answers the single user object, not a list;
- ``project_route_unscoped``: ``GET /api/projects/{id}`` answers any project,
  whoever asks (an API that forgot to check the owner);
- ``collections_unslashed``: the collections are served at ``/api/projects``
  and their slashed paths answer 307 to there (an API that moved its routes);
- ``require_internal_key``: when set, requests without that ``X-Internal-Key`` get 401;
- ``redirect_origin``: the 307s point at this origin instead (a misrouted proxy);
- ``respond_with(path, ...)``: a canned answer for one path (garbage bodies...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import msgspec
from aiohttp import web

from .records import CannedResponse

_REASONS: Final = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


@dataclass
class Switches:
    """How the fake misbehaves; see the module doc."""

    down: bool = False
    slow: float = 0.0
    fail_with: int | None = None
    users_query_ignored: bool = False
    users_as_object: bool = False
    project_route_unscoped: bool = False
    collections_unslashed: bool = False
    require_internal_key: str | None = None
    redirect_origin: str | None = None

    _canned: dict[str, CannedResponse] = field(default_factory=dict, repr=False)
    _delays: dict[str, list[float]] = field(default_factory=dict, repr=False)

    def respond_with(
        self,
        path: str,
        body: bytes | str | Any,
        *,
        status: int = 200,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer ``path`` (with or without its trailing slash) with this, after any 307.

        ``bytes``/``str`` are sent as they are (garbage included); anything else as JSON.
        """
        if isinstance(body, str):
            raw = body.encode()
        elif isinstance(body, bytes):
            raw = body
        else:
            raw = msgspec.json.encode(body)
        self._canned[path.rstrip("/")] = CannedResponse(status, raw, content_type, headers or {})

    def delay_next(self, path: str, seconds: float) -> None:
        """Answer the next request to exactly ``path`` ``seconds`` late (once; calls queue up)."""
        self._delays.setdefault(path, []).append(seconds)

    def clear_responses(self) -> None:
        self._canned.clear()

    def take_delay(self, path: str) -> float | None:
        """The delay ``delay_next`` queued for this request to ``path``, used up; or ``None``."""
        delays = self._delays.get(path)
        return delays.pop(0) if delays else None

    def canned(self, path: str) -> web.Response | None:
        """The answer ``respond_with`` set for ``path``, if any."""
        canned = self._canned.get(path.rstrip("/"))
        if canned is None:
            return None
        return web.Response(
            status=canned.status,
            body=canned.body,
            content_type=canned.content_type,
            headers=canned.headers,
        )


def reset(request: web.Request) -> web.StreamResponse:
    """What ``down`` answers: no answer at all."""
    # abort() sends a TCP reset: the client sees a connection error, not an HTTP answer.
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=503)


def failure(status: int) -> web.Response:
    """What ``fail_with`` answers."""
    if status in _REASONS:
        # What a proxy in front of the API answers: not JSON.
        return web.Response(status=status, text=_REASONS[status], content_type="text/html")
    return web.Response(status=status, text="Internal Server Error")
