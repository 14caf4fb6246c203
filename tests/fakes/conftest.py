"""Fixtures for the fakes' tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from tests.fakes.file_server import FileServer


@pytest.fixture
async def file_server() -> AsyncIterator[FileServer]:
    """A local HTTP server a fake PO fetches attachments from (as from the ``files`` process)."""
    server = FileServer()
    app = web.Application()
    app.router.add_get("/files/{name}", server.serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.base = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()
