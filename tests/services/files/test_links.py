"""A signed link opens its file and nothing else: the real ``files`` process, fake Telegram."""

from __future__ import annotations

import time

import aiohttp
import pytest

from services.fakes.telegram import FakeTelegram
from tests.services.files.conftest import FilesProcess, send_file

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 1000


async def test_a_good_link_streams_the_exact_bytes_with_their_size_and_type(
    files: FilesProcess, fake_telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    file_id = send_file(fake_telegram, PDF)

    async with http.get(files.link(file_id)) as response:
        body = await response.read()

    assert response.status == 200
    assert body == PDF
    assert response.headers["Content-Length"] == str(len(PDF))
    assert response.headers["Content-Type"] == "application/pdf"


async def test_a_photo_is_served_as_an_image(
    files: FilesProcess, fake_telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    photo = b"\xff\xd8\xff\xe0" + b"j" * 4000
    file_id = send_file(fake_telegram, photo, kind="photo", file_name=None)

    async with http.get(files.link(file_id)) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "image/jpeg"
        assert await response.read() == photo


def changed_byte(url: str, index: int) -> str:
    """``url`` with one character of its signature (``index`` from its end) replaced."""
    position = len(url) + index
    replacement = "A" if url[position] != "A" else "B"
    return url[:position] + replacement + url[position + 1 :]


def tampered_expiry(url: str) -> str:
    """``url`` with its expiry pushed a day later, signature kept."""
    _base, _, query = url.partition("?")
    exp = query.split("&")[0].removeprefix("exp=")
    return url.replace(f"exp={exp}", f"exp={int(exp) + 86400}")


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda url: changed_byte(url, -1), id="last byte of the signature"),
        pytest.param(lambda url: changed_byte(url, -20), id="a byte inside the signature"),
        pytest.param(tampered_expiry, id="a later expiry"),
        pytest.param(lambda url: url.partition("&sig=")[0], id="no signature"),
        pytest.param(lambda url: url.partition("?")[0], id="no query"),
        pytest.param(lambda url: url.replace("/files/", "/files/x/"), id="a longer path"),
    ],
)
async def test_a_tampered_link_gets_403_and_nothing_else(
    files: FilesProcess,
    fake_telegram: FakeTelegram,
    http: aiohttp.ClientSession,
    forge: object,
) -> None:
    file_id = send_file(fake_telegram, PDF)
    assert callable(forge)

    async with http.get(forge(files.link(file_id))) as response:
        body = await response.read()

    assert (response.status, body) == (403, b"")
    assert fake_telegram.calls_to("getFile") == []


async def test_an_expired_link_gets_403_and_nothing_else(
    files: FilesProcess, fake_telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    file_id = send_file(fake_telegram, PDF)

    async with http.get(files.link(file_id, expires_at=int(time.time()) - 1)) as response:
        body = await response.read()

    assert (response.status, body) == (403, b"")
    assert fake_telegram.files.downloads == []


async def test_a_link_for_another_file_gets_403_and_nothing_else(
    files: FilesProcess, fake_telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    mine = send_file(fake_telegram, PDF)
    other = send_file(fake_telegram, b"someone else's file")
    url = files.link(mine).replace(mine, other)

    async with http.get(url) as response:
        body = await response.read()

    assert (response.status, body) == (403, b"")
    assert fake_telegram.files.downloads == []


async def test_a_link_made_with_another_key_gets_403(
    files: FilesProcess, fake_telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    from shared.file_links import link

    file_id = send_file(fake_telegram, PDF)
    url = link(files.url, b"k" * 32, file_id, expires_at=int(time.time()) + 60)

    async with http.get(url) as response:
        assert response.status == 403


async def test_no_answer_and_no_log_line_holds_the_token(
    files: FilesProcess, fake_telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    good = send_file(fake_telegram, PDF)
    too_big = send_file(fake_telegram, b"x" * (len(PDF) + 1))
    fake_telegram.files.download_limit = len(PDF)
    statuses: list[int] = []
    bodies: list[bytes] = []
    headers: list[str] = []
    for url in (
        files.link(good),
        changed_byte(files.link(good), -1),
        files.link(too_big),
        files.link("AgACno-such-file"),
    ):
        async with http.get(url) as response:
            statuses.append(response.status)
            bodies.append(await response.read())
            headers.append(str(response.headers))
    await files.process.stop()
    assert statuses == [200, 403, 413, 404]

    token = fake_telegram.token
    secret_part = token.partition(":")[2]
    for text in [*(b.decode(errors="replace") for b in bodies), *headers, files.process.logs()]:
        assert token not in text
        assert secret_part not in text
    assert {e.get("event") for e in files.process.events()} >= {"file_served", "file_not_served"}
