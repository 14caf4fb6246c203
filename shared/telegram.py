"""A small Telegram Bot API client on aiohttp: JSON in, ``result`` out, typed errors.

The relay and the notifier only *send*; importing aiogram for that costs a
process some 130 MB (pydantic models of the whole Bot API). This client
does what :mod:`shared.sending` needs and nothing more, with no aiogram
anywhere in its import chain.

Every method is a POST of a JSON object (a multipart form for uploads) to
``{api_url}/bot{token}/{method}``
(:meth:`TelegramClient.call`); answers are decoded JSON, not models (a
``Message`` is a ``dict`` with at least ``message_id``, ``chat`` and
``date``); failures are :class:`TelegramError` subclasses. The token is part
of every request URL, and aiohttp's own errors can quote that URL: no
exception, repr or message of this module contains the token (it is
replaced by ``***``), and the original aiohttp exception is not chained.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, NamedTuple, Self

import aiohttp
import msgspec

from shared.settings import BaseSettings, Secret

DEFAULT_API_URL: Final = "https://api.telegram.org"
DEFAULT_TIMEOUT_S: Final = 60.0
"""A request's total timeout (connect, send, answer), as aiogram's default."""
REDACTED: Final = "***"
_DEFAULT_RETRY_AFTER_S: Final = 5

_encoder = msgspec.json.Encoder()


class TelegramError(Exception):
    """Any failure of a Bot API request; ``str(exc)`` is the description, never the token.

    * :class:`ApiError`: Telegram answered ``"ok": false``; ``error_code``,
      ``description`` and ``parameters`` as sent. Subclasses by code:
      :class:`RetryAfter` (429, ``retry_after`` seconds from
      ``parameters.retry_after``), :class:`BadRequest` (400),
      :class:`Unauthorized` (401), :class:`Forbidden` (403), :class:`NotFound`
      (404), :class:`Conflict` (409), :class:`ServerError` (5xx); other codes
      are a plain :class:`ApiError`.
    * :class:`DecodeError`: an answer that is not the Bot API's JSON (nginx's
      HTML page on a 502, say); ``status`` is the HTTP status. The body is not
      kept.
    * :class:`NetworkError`: no answer: connection refused or dropped, a
      timeout.
    """

    def __init__(self, method: str, description: str) -> None:
        super().__init__(description)
        self.method = method
        self.description = description

    def __str__(self) -> str:
        return self.description

    def __repr__(self) -> str:
        return f"{type(self).__name__}(method={self.method!r}, description={self.description!r})"


class ApiError(TelegramError):
    """Telegram answered ``{"ok": false, "error_code": ..., "description": ...}``."""

    def __init__(
        self,
        method: str,
        error_code: int,
        description: str,
        parameters: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(method, description)
        self.error_code = error_code
        self.parameters: dict[str, Any] = dict(parameters or {})


class RetryAfter(ApiError):
    """429: flood control; wait ``retry_after`` seconds before the next request."""

    @property
    def retry_after(self) -> int:
        """``parameters.retry_after``, whole seconds; 5 if missing or not a number."""
        raw = self.parameters.get("retry_after", _DEFAULT_RETRY_AFTER_S)
        try:
            return max(0, int(raw))
        except (TypeError, ValueError):
            return _DEFAULT_RETRY_AFTER_S


class BadRequest(ApiError):
    """400: the request itself is wrong ("can't parse entities", "message is not modified"...)."""


class Unauthorized(ApiError):
    """401: the token is not valid."""


class Forbidden(ApiError):
    """403: the bot may not write there (the user blocked it, it was kicked)."""


class NotFound(ApiError):
    """404: no such method (or token) at this API server."""


class Conflict(ApiError):
    """409: another ``getUpdates`` poller, or a webhook is set."""


class ServerError(ApiError):
    """5xx with the Bot API's JSON: Telegram failed on its side; trying later can work."""


class DecodeError(TelegramError):
    """An answer that is not the Bot API's JSON (an nginx error page, say)."""

    def __init__(self, method: str, status: int, description: str) -> None:
        super().__init__(method, description)
        self.status = status


class NetworkError(TelegramError):
    """No answer: the connection failed, dropped, or timed out. The request may have arrived."""


_BY_CODE: Final[dict[int, type[ApiError]]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    429: RetryAfter,
}


def api_error(
    method: str, error_code: int, description: str, parameters: Mapping[str, Any] | None = None
) -> ApiError:
    """The :class:`ApiError` subclass for ``error_code``."""
    cls = _BY_CODE.get(error_code)
    if cls is None:
        cls = ServerError if error_code >= 500 else ApiError
    if cls is not RetryAfter and parameters and "retry_after" in parameters:
        cls = RetryAfter
    return cls(method, error_code, description, parameters)


class TelegramClient:
    """One bot's Bot API client: one aiohttp session, opened on first use; see the module doc."""

    def __init__(
        self,
        token: str | Secret,
        api_url: str = DEFAULT_API_URL,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        connections: int = 100,
    ) -> None:
        secret = token.reveal() if isinstance(token, Secret) else token
        bot_id, _, tail = secret.partition(":")
        if not secret or not tail:
            raise ValueError("token must look like '<bot id>:<secret>'")
        self.api_url = api_url.rstrip("/")
        self.bot_id = int(bot_id) if bot_id.isdigit() else None
        self.timeout = timeout
        self._base = f"{self.api_url}/bot{secret}/"
        # The whole token, and its secret part alone (however a URL spells the colon).
        self._secrets = (secret, tail)
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_settings(cls, settings: BaseSettings, *, timeout: float = DEFAULT_TIMEOUT_S) -> Self:
        """A client for ``TELEGRAM_BOT_TOKEN`` at ``TELEGRAM_API_URL``."""
        return cls(settings.telegram_bot_token, settings.telegram_api_url, timeout=timeout)

    def __repr__(self) -> str:
        return f"TelegramClient(api_url={self.api_url!r}, bot_id={self.bot_id!r})"

    @property
    def closed(self) -> bool:
        return self._session is None or self._session.closed

    async def close(self) -> None:
        """Close the HTTP session; a later call opens a new one."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # ---- the one request

    async def call(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        files: Mapping[str, Upload] | None = None,
    ) -> Any:
        """POST ``params`` (``None`` values left out) to ``method``; its ``result``.

        JSON, or with ``files`` (field name -> :class:`Upload`) a multipart
        form: each parameter a form field (objects as JSON), each file a part.
        Raises a :class:`TelegramError` (the kinds: its docstring), never
        an aiohttp exception.
        """
        given = {k: v for k, v in (params or {}).items() if v is not None}
        body: Any = _encoder.encode(given) if files is None else _form(given, files)
        headers = {"Content-Type": "application/json"} if files is None else None
        limit = aiohttp.ClientTimeout(total=self.timeout if timeout is None else timeout)
        try:
            async with self._open().post(
                self._base + method, data=body, headers=headers, timeout=limit
            ) as response:
                status = response.status
                content_type = response.content_type
                raw = await response.read()
        except TimeoutError:
            raise NetworkError(method, f"timed out after {limit.total} s") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise NetworkError(method, self._scrub(f"{type(exc).__name__}: {exc}")) from None
        return self._result(method, status, content_type, raw)

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections)
            )
        return self._session

    def _result(self, method: str, status: int, content_type: str, raw: bytes) -> Any:
        try:
            answer = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            answer = None
        if not isinstance(answer, dict) or not isinstance(answer.get("ok"), bool):
            detail = f"HTTP {status}: not a Bot API answer ({content_type})"
            raise DecodeError(method, status, detail)
        if answer["ok"]:
            return answer.get("result")
        code = answer.get("error_code")
        error_code = code if isinstance(code, int) and not isinstance(code, bool) else status
        description = self._scrub(str(answer.get("description") or f"HTTP {status}"))
        parameters = answer.get("parameters")
        raise api_error(
            method, error_code, description, parameters if isinstance(parameters, dict) else None
        )

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    # ---- the methods the bot sends with

    async def send_message(
        self,
        chat_id: int | str,
        text: str,
        *,
        parse_mode: str | None = None,
        reply_markup: Mapping[str, Any] | None = None,
        disable_link_preview: bool = False,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """``sendMessage``: the sent ``Message`` (a dict with ``message_id``)."""
        params = {
            "chat_id": chat_id,
            **_text(text, parse_mode, reply_markup, disable_link_preview),
        }
        message: dict[str, Any] = await self.call("sendMessage", params, timeout=timeout)
        return message

    async def edit_message_text(
        self,
        chat_id: int | str,
        message_id: int,
        text: str,
        *,
        parse_mode: str | None = None,
        reply_markup: Mapping[str, Any] | None = None,
        disable_link_preview: bool = False,
        timeout: float | None = None,
    ) -> dict[str, Any] | bool:
        """``editMessageText``: the edited ``Message``."""
        params = {
            "chat_id": chat_id,
            "message_id": message_id,
            **_text(text, parse_mode, reply_markup, disable_link_preview),
        }
        result: dict[str, Any] | bool = await self.call("editMessageText", params, timeout=timeout)
        return result

    async def delete_message(
        self, chat_id: int | str, message_id: int, *, timeout: float | None = None
    ) -> bool:
        """``deleteMessage``."""
        params = {"chat_id": chat_id, "message_id": message_id}
        return bool(await self.call("deleteMessage", params, timeout=timeout))

    async def send_chat_action(
        self, chat_id: int | str, action: str = "typing", *, timeout: float | None = None
    ) -> bool:
        """``sendChatAction``: shown for about 5 s, or until the bot's next message."""
        params = {"chat_id": chat_id, "action": action}
        return bool(await self.call("sendChatAction", params, timeout=timeout))

    async def set_message_reaction(
        self, chat_id: int, message_id: int, emoji: str | None, *, timeout: float | None = None
    ) -> bool:
        """``setMessageReaction``: the bot's one reaction on a message (None: removed)."""
        reaction = [{"type": "emoji", "emoji": emoji}] if emoji else []
        params = {"chat_id": chat_id, "message_id": message_id, "reaction": reaction}
        return bool(await self.call("setMessageReaction", params, timeout=timeout))

    async def send_message_draft(
        self,
        chat_id: int,
        draft_id: int,
        text: str,
        *,
        parse_mode: str | None = None,
        can_stop: bool = False,
        timeout: float | None = None,
    ) -> bool:
        """``sendMessageDraft``: a private chat's preview of a reply being written.

        ``can_stop``: the user's client shows a stop button; its press comes
        back as a ``stopped_message_generation`` update.
        """
        params: dict[str, Any] = {
            "chat_id": chat_id,
            "draft_id": draft_id,
            "text": text,
            "parse_mode": parse_mode,
        }
        if can_stop:
            params["can_stop"] = True
        return bool(await self.call("sendMessageDraft", params, timeout=timeout))


class Upload(NamedTuple):
    """A file sent as a multipart part: its name, bytes and MIME type."""

    file_name: str
    content: bytes
    mime_type: str | None = None


def _form(params: Mapping[str, Any], files: Mapping[str, Upload]) -> aiohttp.FormData:
    form = aiohttp.FormData(quote_fields=False)
    for name, value in params.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif not isinstance(value, str):
            value = _encoder.encode(value).decode()
        form.add_field(name, value)
    for name, upload in files.items():
        kind = upload.mime_type or "application/octet-stream"
        form.add_field(name, upload.content, filename=upload.file_name, content_type=kind)
    return form


def _text(
    text: str,
    parse_mode: str | None,
    reply_markup: Mapping[str, Any] | None,
    disable_link_preview: bool,
) -> dict[str, Any]:
    """A message's text and its look, as ``sendMessage`` and ``editMessageText`` both take them."""
    fields: dict[str, Any] = {"text": text, "parse_mode": parse_mode}
    fields["reply_markup"] = _markup(reply_markup)
    if disable_link_preview:
        fields["link_preview_options"] = {"is_disabled": True}
    return fields


def _markup(reply_markup: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``reply_markup`` as the Bot API's plain JSON (``{"inline_keyboard": [[...]]}``, ...);
    aiogram markup converts with ``markup.model_dump(exclude_none=True)``."""
    return None if reply_markup is None else dict(reply_markup)


__all__ = [
    "DEFAULT_API_URL", "DEFAULT_TIMEOUT_S", "ApiError", "BadRequest", "Conflict", "DecodeError",
    "Forbidden", "NetworkError", "NotFound", "RetryAfter", "ServerError", "TelegramClient",
    "TelegramError", "Unauthorized", "Upload", "api_error",
]  # fmt: skip
