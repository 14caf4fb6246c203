"""``GET /files/{file_id}?exp=…&sig=…``: check the link, then stream the file from Telegram.

What a client gets, and why (docs/ARCHITECTURE.md, "Files process"):

* **403**, empty body: the link is not valid for this file (forged, a changed
  byte, expired, another file's signature, ``exp`` or ``sig`` missing). Nothing
  says which: a forger learns nothing.
* **200**: the file, streamed in 64 KiB pieces as they come from Telegram
  (never held whole in memory), with ``Content-Length`` (Telegram's, else
  ``getFile``'s ``file_size``) and ``Content-Type`` (Telegram's, else guessed
  from the file's path, else ``application/octet-stream``). ``HEAD``: the
  same headers from ``getFile`` alone, nothing downloaded.
* **404**: Telegram does not know the file (``getFile`` refuses the id, or the
  download is gone).
* **413**: over the Bot API's download limit (20 MB on the cloud API): no
  link can serve it; the user was told when they sent it.
* **503** with ``Retry-After``: Telegram asked us to wait (429).
* **502**: Telegram failed, answered nonsense, did not answer within
  ``FILES_UPSTREAM_TIMEOUT_S``, or refused our token.

If the download from Telegram breaks after the headers went out, the
connection is closed short of ``Content-Length``: the client sees a
truncated body, never a complete-looking wrong file.
"""

from __future__ import annotations

import contextlib
import mimetypes
import time
from collections.abc import Callable
from typing import Final

import aiohttp
from aiohttp import web

from services.files.metrics import FileResult, FilesMetrics
from services.files.upstream import BotFiles, Located, Refusal
from shared.file_links import PATH_PREFIX, verify
from shared.log import get_logger

log = get_logger(__name__)

CHUNK: Final = 64 * 1024
DEFAULT_TYPE: Final = "application/octet-stream"
_REFUSAL_TEXT: Final = {
    404: "file not found\n",
    413: "file is too big for the Bot API to serve\n",
    502: "Telegram did not serve the file; try again later\n",
    503: "Telegram asks to wait; try again later\n",
}


class FileLinks:
    """The request handler: one link checked, one file streamed; no state between requests."""

    def __init__(
        self,
        key: bytes,
        files: BotFiles,
        metrics: FilesMetrics,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self._files = files
        self._metrics = metrics
        self._clock = clock

    def routes(self) -> list[web.RouteDef]:
        # add_get serves HEAD too (allow_head).
        # Anything under /files/ is a link to check: a tampered path gets 403 too, not 404.
        return [web.get(PATH_PREFIX + "{file_id:.+}", self.handle)]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        file_id = request.match_info["file_id"]
        query = request.query
        if not verify(self._key, file_id, query.get("exp"), query.get("sig"), now=self._clock()):
            self._metrics.request("forbidden")
            log.info("file_link_refused")
            return web.Response(status=403)
        started = time.monotonic()
        try:
            located = await self._files.locate(file_id)
            if request.method == "HEAD":
                return self._head(located)
            return await self._stream(request, file_id, located, started)
        except Refusal as refusal:
            self._metrics.request(refusal.result)
            log.info("file_not_served", file_id=file_id, status=refusal.status,
                     reason=refusal.reason)  # fmt: skip
            return _refused(refusal)

    def _head(self, located: Located) -> web.StreamResponse:
        response = web.Response(status=200, headers=_headers(None, located.file_path))
        if located.size is not None:
            # Not a body: HEAD announces the length the GET would send.
            response.headers["Content-Length"] = str(located.size)
        self._metrics.request("served")
        return response

    async def _stream(
        self, request: web.Request, file_id: str, located: Located, started: float
    ) -> web.StreamResponse:
        async with self._files.download(located) as upstream:
            response = web.StreamResponse(
                status=200, headers=_headers(upstream.content_type, located.file_path)
            )
            length = upstream.content_length
            response.content_length = length if length is not None else located.size
            await response.prepare(request)
            self._metrics.streaming(+1)
            try:
                result, sent = await self._copy(upstream, response)
            finally:
                self._metrics.streaming(-1)
        self._metrics.request(result)
        elapsed_ms = round((time.monotonic() - started) * 1000)
        if result == "served":
            with contextlib.suppress(OSError):  # a client gone at the very end has it all
                await response.write_eof()
            log.info("file_served", file_id=file_id, bytes=sent, duration_ms=elapsed_ms)
        else:
            level = log.info if result == "client_gone" else log.warning
            level(f"file_{result}", file_id=file_id, bytes=sent, duration_ms=elapsed_ms)
            if request.transport is not None:
                # Short of Content-Length: the client sees the body cut, not a whole file.
                request.transport.close()
        return response

    async def _copy(
        self, upstream: aiohttp.ClientResponse, response: web.StreamResponse
    ) -> tuple[FileResult, int]:
        """Telegram's body to the client, piece by piece; how it ended and the bytes sent."""
        sent = 0
        while True:
            try:
                chunk = await upstream.content.read(CHUNK)
            except (aiohttp.ClientError, OSError, TimeoutError):
                return "upstream_broke", sent
            if not chunk:
                if response.content_length not in (None, sent):
                    return "upstream_broke", sent  # Telegram's body ended early
                return "served", sent
            try:
                await response.write(chunk)
            except OSError:  # ConnectionResetError and aiohttp's own kinds of it
                return "client_gone", sent
            sent += len(chunk)
            self._metrics.sent(len(chunk))


def _headers(upstream_type: str | None, file_path: str) -> dict[str, str]:
    content_type = upstream_type if upstream_type and upstream_type != DEFAULT_TYPE else None
    if content_type is None:
        content_type = mimetypes.guess_type(file_path)[0] or DEFAULT_TYPE
    return {
        "Content-Type": content_type,
        # The link is a credential of its own: neither caches nor sniffing browsers.
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
    }


def _refused(refusal: Refusal) -> web.Response:
    headers = {}
    if refusal.retry_after is not None:
        headers["Retry-After"] = str(refusal.retry_after)
    return web.Response(
        status=refusal.status, text=_REFUSAL_TEXT.get(refusal.status, ""), headers=headers
    )
