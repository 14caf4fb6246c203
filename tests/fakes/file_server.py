"""A local HTTP server holding files, standing in for the ``files`` process a PO fetches from."""

from __future__ import annotations

import hashlib

from aiohttp import web

from services.fakes.workers.files import HASHED_BYTES


class FileServer:
    """``url(name)`` serves ``files[name]`` (404 for any other name); ``fetched`` counts GETs."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.fetched: list[str] = []
        self.base = ""

    def url(self, name: str) -> str:
        return f"{self.base}/files/{name}"

    async def serve(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.fetched.append(name)
        content = self.files.get(name)
        if content is None:
            return web.Response(status=404)
        return web.Response(body=content, content_type="application/octet-stream")


def head_hash(content: bytes) -> str:
    """What the fake PO reports for ``content``: sha256 of its first 64 KiB, 12 hex digits."""
    return hashlib.sha256(content[:HASHED_BYTES]).hexdigest()[:12]
