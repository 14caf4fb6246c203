"""The Bot API side of a file link: ``getFile``, then the download, as a stream.

:meth:`BotFiles.locate` asks ``getFile`` where a file is;
:meth:`BotFiles.download` opens ``{TELEGRAM_API_URL}/file/bot<token>/<path>``
and hands the response over unread, for the caller to stream. Anything that
keeps a file from being served is a :class:`Refusal`: the HTTP status the
client gets, and how the request is counted. The token is in every URL
used here; none of them, and no aiohttp error text (which quotes its URL),
leaves this module: errors are named by their type only.

A self-hosted Bot API server started with ``--local`` answers ``getFile``
with an absolute path on its own disk (``/var/lib/telegram-bot-api/<token>/
documents/file_1.pdf``) and serves no downloads itself; the usual set-up
serves that directory over HTTP at ``/file/bot<token>/`` (nginx in front of
it). Such a path is fetched there, by its part after ``/<token>/``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Final

import aiohttp

from services.files.metrics import FileResult
from shared.log import get_logger
from shared.settings import Secret
from shared.telegram import (
    BadRequest,
    DecodeError,
    NetworkError,
    NotFound,
    RetryAfter,
    ServerError,
    TelegramClient,
    TelegramError,
    Unauthorized,
)

log = get_logger(__name__)

UPSTREAM_CONNECTIONS: Final = 1000
"""Downloads from the Bot API at once; each client being served holds one."""


@dataclass(frozen=True)
class Located:
    """Where ``getFile`` says a file is: its path for the download, its size if given."""

    file_path: str
    size: int | None


class Refusal(Exception):
    """The file cannot be served: ``status`` for the client, ``result`` for the metrics."""

    def __init__(
        self, status: int, result: FileResult, reason: str, *, retry_after: int | None = None
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.result: FileResult = result
        self.reason = reason
        """A short event-style name for the log (never a URL or a Telegram text)."""
        self.retry_after = retry_after


TOO_LARGE = "file is too big"
"""The Bot API's ``getFile`` error text for a file over its download limit."""


class BotFiles:
    """``getFile`` and downloads for one bot; one HTTP session each, opened on first use."""

    def __init__(self, token: Secret, api_url: str, *, timeout_s: float) -> None:
        self._token = token
        self._api_url = api_url.rstrip("/")
        self._timeout_s = timeout_s
        self._api = TelegramClient(token, api_url, timeout=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        await self._api.close()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def locate(self, file_id: str) -> Located:
        """``getFile``: where the file is, or a :class:`Refusal` saying why it cannot be had."""
        try:
            answer = await self._api.call("getFile", {"file_id": file_id})
        except BadRequest as exc:
            if TOO_LARGE in exc.description:
                raise Refusal(413, "too_large", "file_too_large") from None
            # "invalid file_id", "wrong file_id or the file is temporarily unavailable"
            raise Refusal(404, "not_found", "file_unknown") from None
        except RetryAfter as exc:
            raise Refusal(
                503, "unavailable", "telegram_flood_wait", retry_after=exc.retry_after
            ) from None
        except (Unauthorized, NotFound):
            # Our token or TELEGRAM_API_URL is wrong: no link can work until it is fixed.
            log.error("files_token_refused_by_telegram")
            raise Refusal(502, "unavailable", "telegram_refused_token") from None
        except TelegramError as exc:
            raise Refusal(502, "unavailable", f"telegram_{_kind(exc)}") from None
        if not isinstance(answer, dict) or not isinstance(answer.get("file_path"), str):
            # A File without a path cannot be downloaded (Telegram no longer has it).
            raise Refusal(404, "not_found", "file_has_no_path")
        size = answer.get("file_size")
        return Located(answer["file_path"], size if isinstance(size, int) else None)

    @contextlib.asynccontextmanager
    async def download(self, located: Located) -> AsyncIterator[aiohttp.ClientResponse]:
        """The download's response (status 200), its body unread; a :class:`Refusal` if none."""
        path = self._relative(located.file_path)
        url = f"{self._api_url}/file/bot{self._token.reveal()}/{path}"
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self._timeout_s, sock_read=self._timeout_s
        )
        try:
            # identity: the bytes as stored, so their length is the one announced.
            response = await self._open().get(
                url, timeout=timeout, headers={"Accept-Encoding": "identity"}
            )
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise Refusal(502, "unavailable", f"download_{type(exc).__name__}") from None
        try:
            if response.status == 404:
                raise Refusal(404, "not_found", "download_not_found")
            if response.status != 200:
                raise Refusal(502, "unavailable", f"download_http_{response.status}")
            yield response
        finally:
            if response.content.at_eof():
                response.release()  # the connection goes back to the pool
            else:
                response.close()  # a body left half-read: the connection cannot be reused

    def _relative(self, file_path: str) -> str:
        if not file_path.startswith("/"):
            return file_path
        _before, found, rest = file_path.partition(f"/{self._token.reveal()}/")
        if not found or not rest:
            raise Refusal(502, "unavailable", "file_path_not_downloadable")
        return rest

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=UPSTREAM_CONNECTIONS),
                auto_decompress=False,
            )
        return self._session


def _kind(exc: TelegramError) -> str:
    """``server_error``, ``network``, ``bad_answer`` or ``error``: for the log."""
    if isinstance(exc, ServerError):
        return "server_error"
    if isinstance(exc, NetworkError):
        return "network"
    if isinstance(exc, DecodeError):
        return "bad_answer"
    return "error"
