"""A small HTTP server a PO's attachment ``url`` can point at, counting what it was asked."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

FILES = {
    "/report.pdf": (b"%PDF-1.7 the report", "application/pdf"),
    "/chart.png": (b"\x89PNG chart", "image/png"),
}


class FilesServer:
    """Serves :data:`FILES` (404 for anything else); ``hits``: every path asked for."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._serve)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def host(self) -> str:
        """``host:port``, as ``FILES_FETCH_ALLOW`` names it."""
        return f"127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"http://{self.host}{path}"

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(request.path)
        if request.path.startswith("/redirect"):
            raise web.HTTPFound(request.query["to"])
        if request.path == "/endless":
            response = web.StreamResponse()  # no Content-Length: chunked, never-ending
            await response.prepare(request)
            while True:
                await response.write(b"x" * 65536)
        found = FILES.get(request.path)
        if found is None:
            raise web.HTTPNotFound()
        content, kind = found
        return web.Response(body=content, content_type=kind)


@pytest.fixture
async def files_server() -> AsyncIterator[FilesServer]:
    server = FilesServer()
    await server.start()
    yield server
    await server.stop()
