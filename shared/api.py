"""A small client for the backend API (CONTRACTS.md, "Backend API").

One ``aiohttp.ClientSession`` per ``ApiClient``, opened and closed by
``async with``. Every failure surfaces as an ``ApiError`` subclass, so callers
need one ``except`` to fail closed:

- ``ApiUnavailable``: the API cannot be reached or answers 5xx (connection
  refused or reset, timeout);
- ``ApiForbidden``: 403 (a non-admin asking for an admin-only resource);
- ``ApiBadResponse``: any other status, or a body that is not what the
  contract describes.

Decoding is lenient: unknown fields are ignored, and in a collection an item
that does not validate is skipped with a log line, so one odd project does
not hide the others. ``find_user`` is the exception: it guards access, so an
answer it cannot fully read is an ``ApiBadResponse`` (fail closed, and loud).

Collections are asked at their slashed paths (``/api/projects/``): the API
answers the unslashed ones with a 307 to those, a round trip per call
spared. Redirects are still followed by hand, in case an API version moves
a route, and only to the same scheme, host and port: the internal key is
never sent to another origin. Exception messages and log lines carry the
path, never the full URL or a header value.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from types import TracebackType
from typing import Any, Final, Self, TypeVar

import aiohttp
import msgspec
from yarl import URL

from shared.log import get_logger
from shared.schemas import NewUser, Project, Server, Task, User
from shared.settings import Secret

log = get_logger(__name__)

T = TypeVar("T")

_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_raw_list = msgspec.json.Decoder(list[msgspec.Raw])
# strict=False: a number sent as a string ("42") still decodes.
_users_decoder = msgspec.json.Decoder(list[User], strict=False)
_user_decoder = msgspec.json.Decoder(User, strict=False)
_encoder = msgspec.json.Encoder()
_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}


class ApiError(Exception):
    """The API could not give a usable answer. ``status`` is the HTTP status, if any."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ApiUnavailable(ApiError):
    """Connection refused or reset, timeout, or a 5xx answer."""


class ApiForbidden(ApiError):
    """403: the user may not see this resource."""


class ApiBadResponse(ApiError):
    """An unexpected status, or a body that cannot be decoded or validated."""


class ApiClient:
    """The backend API, as the bot uses it. Use as ``async with ApiClient(...) as api``."""

    def __init__(
        self,
        base_url: str,
        internal_key: Secret | None,
        timeout: float = 5.0,
        *,
        max_redirects: int = 3,
    ) -> None:
        self._base = URL(base_url.rstrip("/"))
        self._key = internal_key
        self._timeout = timeout
        self._max_redirects = max_redirects
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self._timeout),
            # The API sets no state we need; a jar would only carry it across users.
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- the calls ----------------------------------------------------------

    async def find_user(self, telegram_id: int) -> User | None:
        """The user with exactly this Telegram id, or ``None`` when the API does not know them.

        A non-empty answer proves nothing (a deployed API ignores the query
        and returns every user): only a user whose ``telegram_id`` matches counts.
        """
        path = "/api/users/"
        status, body = await self._get(
            path, {"telegram_id": str(telegram_id)}, telegram_id, allowed=(404,)
        )
        if status == 404:
            return None
        users = _decode_users_strictly(body, path)
        match = next((user for user in users if user.telegram_id == telegram_id), None)
        if match is None and users:
            # Worth seeing in the logs: the API may be ignoring the query.
            log.info("api_user_not_in_answer", telegram_id=telegram_id, answered=len(users))
        return match

    async def list_users(self) -> list[User]:
        """Every user (the notifier looks for admins here)."""
        return await self._list("/api/users/", {}, None, User)

    async def list_projects(self, telegram_id: int) -> list[Project]:
        return await self._list("/api/projects/", {}, telegram_id, Project)

    async def list_servers(self, telegram_id: int) -> list[Server]:
        """Servers; ``ApiForbidden`` for a non-admin."""
        return await self._list("/api/servers/", {}, telegram_id, Server)

    async def list_tasks(self, telegram_id: int, status: str = "running") -> list[Task]:
        return await self._list("/api/tasks/", {"status": status}, telegram_id, Task)

    async def create_user(self, new: NewUser, *, by: int) -> User:
        """Create ``new`` (``POST /api/users/``) as the admin whose Telegram id is ``by``.

        A user with that Telegram id already there (409) counts as done: that
        user is returned. So a retry after a lost answer, or two admins
        approving at once, never fails.
        """
        path = "/api/users/"
        status, body = await self._request(
            "POST", path, {}, by, body=_encoder.encode(new), allowed=(409,)
        )
        if status == 409:
            existing = await self.find_user(new.telegram_id)
            if existing is None:
                raise ApiBadResponse(f"POST {path}: 409, yet no such user", status=status)
            return existing
        try:
            return _user_decoder.decode(body)
        except msgspec.DecodeError as exc:
            log.warning("api_bad_body", path=path, error=str(exc))
            raise ApiBadResponse(f"POST {path}: expected the user object") from None

    # --- HTTP ----------------------------------------------------------------

    async def _list(
        self, path: str, query: dict[str, str], telegram_id: int | None, type_: type[T]
    ) -> list[T]:
        _, body = await self._get(path, query, telegram_id)
        return _decode_list(body, type_, path)

    async def _get(
        self,
        path: str,
        query: dict[str, str],
        telegram_id: int | None,
        *,
        allowed: Collection[int] = (),
    ) -> tuple[int, bytes]:
        """GET ``path``; see :meth:`_request`."""
        return await self._request("GET", path, query, telegram_id, allowed=allowed)

    async def _request(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        telegram_id: int | None,
        *,
        body: bytes | None = None,
        allowed: Collection[int] = (),
    ) -> tuple[int, bytes]:
        """``method`` ``path``, following same-origin redirects; the final status and body.

        A status in ``allowed`` (404 for "no such user") is returned, not raised.
        """
        what = f"{method} {path}"
        headers = self._headers(telegram_id)
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            # One deadline for the whole exchange, redirect hops and body included.
            async with asyncio.timeout(self._timeout):
                status, answer = await self._follow(method, path, query, headers, body)
        except TimeoutError:
            log.warning("api_timeout", path=path, method=method, timeout_s=self._timeout)
            raise ApiUnavailable(f"{what}: no answer within {self._timeout:g} s") from None
        except aiohttp.ClientError as exc:
            # The exception text can hold the full URL; the class name is enough.
            log.warning("api_unreachable", path=path, method=method, error=type(exc).__name__)
            raise ApiUnavailable(f"{what}: {type(exc).__name__}") from None
        return _check_status(what, status, allowed=allowed), answer

    async def _follow(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes | None,
    ) -> tuple[int, bytes]:
        session = self._require_session()
        url = self._url(path).update_query(query) if query else self._url(path)
        for _hop in range(self._max_redirects + 1):
            # 307 and 308 keep the method and body, as FastAPI's slash redirects expect.
            async with session.request(
                method, url, headers=headers, data=body, allow_redirects=False
            ) as response:
                if response.status not in _REDIRECTS:
                    return response.status, await response.read()
                url = self._redirect_target(f"{method} {path}", url, response)
        log.warning("api_too_many_redirects", path=path, limit=self._max_redirects)
        raise ApiBadResponse(f"{method} {path}: more than {self._max_redirects} redirects")

    def _redirect_target(self, what: str, url: URL, response: aiohttp.ClientResponse) -> URL:
        location = response.headers.get("Location")
        if not location:
            raise ApiBadResponse(f"{what}: redirect without Location", status=response.status)
        try:
            target = url.join(URL(location))
            same_origin = _origin(target) == _origin(self._base)
        except ValueError:
            same_origin = False
        if not same_origin:
            # Following it would hand the internal key to someone else.
            log.warning("api_redirect_refused", path=what.partition(" ")[2])
            raise ApiBadResponse(
                f"{what}: redirect to another origin refused", status=response.status
            )
        return target

    def _headers(self, telegram_id: int | None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self._key is not None and self._key.reveal():
            headers["X-Internal-Key"] = self._key.reveal()
        if telegram_id is not None:
            headers["X-Telegram-ID"] = str(telegram_id)
        return headers

    def _url(self, path: str) -> URL:
        return self._base.with_path(self._base.path.rstrip("/") + path)

    def _require_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("ApiClient is used outside 'async with'")
        return self._session


def _origin(url: URL) -> tuple[str, str | None, int | None]:
    if not url.absolute:
        raise ValueError("relative URL")
    return url.scheme.lower(), url.host, url.port  # .port fills in the scheme's default


def _check_status(what: str, status: int, *, allowed: Collection[int]) -> int:
    """``status`` if it is a success or ``allowed``; else the ``ApiError`` it means.

    ``what`` is the request as ``"GET /api/users/"``."""
    if 200 <= status < 300 or status in allowed:
        return status
    path = what.partition(" ")[2]
    if status >= 500:
        log.warning("api_server_error", path=path, status=status)
        raise ApiUnavailable(f"{what}: HTTP {status}", status=status)
    if status == 403:
        raise ApiForbidden(f"{what}: forbidden", status=status)
    log.warning("api_unexpected_status", path=path, status=status)
    raise ApiBadResponse(f"{what}: unexpected HTTP {status}", status=status)


def _decoder(type_: type[T]) -> msgspec.json.Decoder[T]:
    decoder = _decoders.get(type_)
    if decoder is None:
        decoder = _decoders[type_] = msgspec.json.Decoder(type_, strict=False)
    return decoder


def _decode_list(body: bytes, type_: type[T], path: str) -> list[T]:
    """A JSON list of ``type_``; items that do not validate are skipped and logged."""
    try:
        raws = _raw_list.decode(body)
    except msgspec.DecodeError as exc:
        log.warning("api_bad_body", path=path, error=str(exc))
        raise ApiBadResponse(f"GET {path}: expected a JSON list") from None
    items: list[T] = []
    for index, raw in enumerate(raws):
        try:
            items.append(_decoder(type_).decode(raw))
        except msgspec.DecodeError as exc:
            log.warning("api_item_skipped", path=path, index=index, error=str(exc))
    return items


def _decode_users_strictly(body: bytes, path: str) -> list[User]:
    """One user object or a list of them; anything malformed is an ``ApiBadResponse``."""
    try:
        if body.lstrip().startswith(b"["):
            return _users_decoder.decode(body)
        return [_decoder(User).decode(body)]
    except msgspec.DecodeError as exc:
        log.warning("api_bad_body", path=path, error=str(exc))
        raise ApiBadResponse(f"GET {path}: not a user or a list of users") from None
