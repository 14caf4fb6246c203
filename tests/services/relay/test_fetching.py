"""The fetch guard: a PO's attachment URL never makes the bot read an internal service.

Real HTTP against a local server; name lookups that must give a private
address (``api``, as in the platform's compose network) go through a
static table standing in for that network's DNS.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.relay.fetching import Allowed, Fetcher, FetchError, FetchRefused, GuardedResolver
from tests.services.relay.files_server import FilesServer, files_server  # noqa: F401

COMPOSE_DNS = {"api": "172.18.0.5", "files.example": "93.184.216.34", "localhost": "127.0.0.1"}


async def compose_lookup(host: str, port: int) -> list[tuple[int, str]]:
    return [(2, COMPOSE_DNS[host])]


@pytest.fixture
async def fetcher(files_server: FilesServer) -> AsyncIterator[Fetcher]:  # noqa: F811
    fetcher = Fetcher([files_server.host], lookup=compose_lookup)
    yield fetcher
    await fetcher.close()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/x",
        "http://10.1.2.3/x",
        "http://192.168.0.1/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/x",
        "http://[fd00::1]/x",
        "http://[fe80::1]/x",
        "http://0.0.0.0/x",
        "http://[::ffff:127.0.0.1]/x",
    ],
)
async def test_an_address_literal_that_is_not_public_is_refused(fetcher: Fetcher, url: str) -> None:
    with pytest.raises(FetchRefused):
        await fetcher.fetch(url)


async def test_a_name_resolving_to_a_private_address_is_refused(fetcher: Fetcher) -> None:
    with pytest.raises(FetchRefused, match="non-public"):
        await fetcher.fetch("http://api:8000/api/users")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://files.example/a", "gopher://x/"])
async def test_a_scheme_other_than_http_and_https_is_refused(fetcher: Fetcher, url: str) -> None:
    with pytest.raises(FetchRefused, match="http"):
        await fetcher.fetch(url)


async def test_the_resolver_hands_aiohttp_the_checked_public_address() -> None:
    resolver = GuardedResolver(Allowed([]), compose_lookup)

    [result] = await resolver.resolve("files.example", 443)

    assert (result["host"], result["port"]) == ("93.184.216.34", 443)


async def test_an_allowed_host_is_fetched_with_its_type_and_name(
    fetcher: Fetcher,
    files_server: FilesServer,  # noqa: F811
) -> None:
    body, kind, name = await fetcher.fetch(files_server.url("/report.pdf"))

    assert (body, kind, name) == (b"%PDF-1.7 the report", "application/pdf", "report.pdf")


async def test_a_redirect_from_an_allowed_host_to_an_internal_one_is_refused(
    fetcher: Fetcher,
    files_server: FilesServer,  # noqa: F811
) -> None:
    for target in ("http://127.0.0.1:6379/", "http://localhost:6379/"):
        with pytest.raises(FetchRefused):
            await fetcher.fetch(files_server.url(f"/redirect?to={target}"))


async def test_a_download_stops_past_the_size_cap_even_without_a_content_length(
    files_server: FilesServer,  # noqa: F811
) -> None:
    fetcher = Fetcher([files_server.host], limit=1_000_000)
    try:
        with pytest.raises(FetchRefused, match="over 1000000 bytes"):
            await fetcher.fetch(files_server.url("/endless"))
    finally:
        await fetcher.close()


async def test_a_download_is_given_up_after_its_time_cap(
    files_server: FilesServer,  # noqa: F811
) -> None:
    fetcher = Fetcher([files_server.host], limit=10**12, timeout_s=0.5)
    try:
        with pytest.raises(FetchError, match="timed out"):
            await fetcher.fetch(files_server.url("/endless"))
    finally:
        await fetcher.close()


async def test_a_missing_file_is_an_error_not_a_refusal(
    fetcher: Fetcher,
    files_server: FilesServer,  # noqa: F811
) -> None:
    with pytest.raises(FetchError, match="HTTP 404") as raised:
        await fetcher.fetch(files_server.url("/nothing.pdf"))

    assert not isinstance(raised.value, FetchRefused)
