"""Downloading a PO's attachment ``url``: capped in time and size, and never from inside.

A PO tricked by a prompt must not make the bot read an internal service
(the platform's API, a cloud's metadata address, Redis' HTTP neighbours)
and send the answer to a chat. So, unless the URL's host (or host:port) is
in ``FILES_FETCH_ALLOW``:

- an address literal in the URL must be global (:func:`is_public`);
- a host name is resolved by :class:`GuardedResolver`, which refuses the
  whole name if any of its addresses is not global, and hands aiohttp the
  checked addresses to connect to (no second lookup: DNS rebinding
  cannot slip a private address in between);
- redirects are followed by hand (at most ``MAX_REDIRECTS``), each hop
  checked the same way.

Only ``http`` and ``https``. The download stops past ``limit`` bytes (50 MB,
Telegram's upload limit; a ``Content-Length`` over it is refused before
reading) and after ``timeout_s`` in all.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Final

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from shared.attachments import UPLOAD_LIMIT

FETCH_TIMEOUT_S: Final = 60.0
"""The whole download (connect, redirects, body), at most."""
MAX_REDIRECTS: Final = 3
_CHUNK: Final = 64 * 1024

Lookup = Callable[[str, int], Awaitable[list[tuple[int, str]]]]
"""A name's addresses: (family, address) pairs; :func:`system_lookup` by default."""


class FetchError(Exception):
    """The file could not be fetched; ``str(exc)`` says why (no secret in it)."""


class FetchRefused(FetchError):
    """Not fetched on purpose: a scheme, an address or a size the bot does not fetch."""


class _RefusedAddress(OSError):
    """Raised inside the resolver (aiohttp wraps resolver ``OSError``s)."""


def is_public(address: str) -> bool:
    """Whether ``address`` is a global unicast address (not loopback, private, link-local,
    unspecified, shared, reserved or multicast; an IPv4-mapped IPv6 address as its IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def system_lookup(host: str, port: int) -> list[tuple[int, str]]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [(family, str(sockaddr[0])) for family, _, _, _, sockaddr in infos]


class Allowed:
    """``FILES_FETCH_ALLOW``: hosts (any port) and host:port pairs fetched from anyway."""

    def __init__(self, entries: Iterable[str]) -> None:
        self._entries = frozenset(_host(entry) for entry in entries if entry.strip())

    def __contains__(self, target: tuple[str, int | None]) -> bool:
        host, port = _host(target[0]), target[1]
        return host in self._entries or f"{host}:{port}" in self._entries


class GuardedResolver(AbstractResolver):
    """Resolves a name and refuses it unless every address is public (or the host allowed)."""

    def __init__(self, allowed: Allowed, lookup: Lookup = system_lookup) -> None:
        self._allowed = allowed
        self._lookup = lookup

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._lookup(host.rstrip("."), port)
        if not found:
            raise OSError(f"{host} has no address")
        if (host, port) not in self._allowed:
            refused = [address for _, address in found if not is_public(address)]
            if refused:
                raise _RefusedAddress(f"{host} resolves to a non-public address")
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=kind,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for kind, address in found
        ]

    async def close(self) -> None:
        return None


class Fetcher:
    """Downloads attachment URLs under the guard; one HTTP session, :meth:`close` it."""

    def __init__(
        self,
        allow: Iterable[str] = (),
        *,
        limit: int = UPLOAD_LIMIT,
        timeout_s: float = FETCH_TIMEOUT_S,
        lookup: Lookup = system_lookup,
    ) -> None:
        self.limit = limit
        self.timeout_s = timeout_s
        self._allowed = Allowed(allow)
        self._lookup = lookup
        self._session: aiohttp.ClientSession | None = None

    async def fetch(self, url: str) -> tuple[bytes, str | None, str | None]:
        """The body, its ``Content-Type`` and the URL's last path segment; or ``FetchError``."""
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self._follow(URL(url))
        except TimeoutError:
            raise FetchError(f"timed out after {self.timeout_s} s") from None
        except (ValueError, aiohttp.InvalidURL) as exc:
            raise FetchRefused(f"not a URL the bot fetches: {type(exc).__name__}") from None
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, _RefusedAddress):
                raise FetchRefused(str(exc.os_error)) from None
            raise FetchError(f"cannot connect: {type(exc).__name__}") from None
        except aiohttp.ClientError as exc:
            raise FetchError(type(exc).__name__) from None

    async def _follow(self, url: URL) -> tuple[bytes, str | None, str | None]:
        for _ in range(MAX_REDIRECTS + 1):
            self._check(url)
            async with self._open().get(url, allow_redirects=False) as response:
                if response.status in (301, 302, 303, 307, 308):
                    location = response.headers.get("Location")
                    if not location:
                        raise FetchError(f"HTTP {response.status} without a Location")
                    url = url.join(URL(location))
                    continue
                if response.status != 200:
                    raise FetchError(f"HTTP {response.status}")
                if (response.content_length or 0) > self.limit:
                    raise FetchRefused(f"over {self.limit} bytes (Content-Length)")
                body = bytearray()
                async for chunk in response.content.iter_chunked(_CHUNK):
                    body += chunk
                    if len(body) > self.limit:
                        raise FetchRefused(f"over {self.limit} bytes")
                kind = response.headers.get("Content-Type")
                return bytes(body), kind.split(";")[0].strip() if kind else None, url.name or None
        raise FetchError(f"more than {MAX_REDIRECTS} redirects")

    def _check(self, url: URL) -> None:
        if url.scheme not in ("http", "https") or not url.host:
            raise FetchRefused("only http and https URLs are fetched")
        try:
            ipaddress.ip_address(url.host.split("%", 1)[0])
        except ValueError:
            return  # a name: the resolver checks what it resolves to
        if (url.host, url.port) not in self._allowed and not is_public(url.host):
            raise FetchRefused(f"{url.host} is not a public address")

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            resolver = GuardedResolver(self._allowed, self._lookup)
            connector = aiohttp.TCPConnector(resolver=resolver, ttl_dns_cache=10)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


def _host(entry: str) -> str:
    return entry.strip().lower().rstrip(".").strip("[]")
