"""The fake API itself: an aiohttp server that records every request, then answers it.

Switches are applied in order (``down``, delays, ``slow``, ``fail_with``, the
internal key, canned answers) before the routes answer from the data.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from services.fakes.lifecycle import StartStop
from shared.stopping import pause

from .data import ApiData
from .records import RecordedRequest
from .routes import Handler, Routes, detail, redirected
from .switches import Switches, failure, reset


@dataclass
class FakeApi(ApiData, Switches, StartStop):
    """The backend API's stand-in: ``async with FakeApi() as api``; see the package doc."""

    host: str = "127.0.0.1"
    port: int = 0

    requests: list[RecordedRequest] = field(default_factory=list)

    _runner: web.AppRunner | None = field(default=None, repr=False)
    _changed: asyncio.Condition | None = field(default=None, repr=False)
    _stopping: asyncio.Event | None = field(default=None, repr=False)

    # --- lifecycle -----------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL clients use (``API_URL``)."""
        if self._runner is None:
            raise RuntimeError("FakeApi is not started")
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        self._changed = asyncio.Condition()
        self._stopping = asyncio.Event()
        app = web.Application(middlewares=[self._middleware])
        Routes(self).add_to(app)
        # handler_cancellation: a client that gave up (timeout) frees a ``slow`` handler.
        self._runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is None:
            return
        assert self._stopping is not None
        self._stopping.set()
        await self._runner.cleanup()
        self._runner = None

    # --- what happened -----------------------------------------------------------

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """Requests whose path is exactly ``path`` (``/api/projects`` is not ``/api/projects/``)."""
        return [request for request in self.requests if request.path == path]

    async def wait_for(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        """Return once ``predicate()`` holds, re-checked after every request.

        ``TimeoutError`` after ``within`` seconds, so a test that waits in vain fails fast.
        """
        condition = self._condition()
        async with asyncio.timeout(within), condition:
            await condition.wait_for(predicate)

    async def wait_for_request(
        self, path: str | None = None, *, count: int = 1, within: float = 5.0
    ) -> RecordedRequest:
        """The ``count``-th request to ``path`` (any path when ``None``), once it has arrived."""

        def matching() -> list[RecordedRequest]:
            return self.requests if path is None else self.requests_to(path)

        await self.wait_for(lambda: len(matching()) >= count, within)
        return matching()[count - 1]

    # --- HTTP ----------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        await self._record(request)
        if self.down:
            return reset(request)
        delay = self.take_delay(request.path)
        if delay is not None:
            await self._pause(delay)
        if self.slow > 0:
            await self._pause(self.slow)
        if self.fail_with is not None:
            return failure(self.fail_with)
        if self.require_internal_key is not None and (
            request.headers.get("X-Internal-Key") != self.require_internal_key
        ):
            return detail(401, "Invalid or missing internal key")
        canned = self.canned(request.path)
        if canned is not None and not redirected(request.path, self.collections_unslashed):
            return canned
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return detail(404, "Not Found")

    async def _record(self, request: web.Request) -> None:
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                headers=CIMultiDictProxy(CIMultiDict(request.headers)),
                dropped=self.down,
                body=await request.read() if request.can_read_body else b"",
            )
        )
        condition = self._condition()
        async with condition:
            condition.notify_all()

    async def _pause(self, seconds: float) -> None:
        # Ends early when the fake stops, so a slow answer never holds up teardown.
        assert self._stopping is not None
        await pause(self._stopping, seconds)

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            raise RuntimeError("FakeApi is not started")
        return self._changed
