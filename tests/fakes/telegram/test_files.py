"""``getFile`` and the download route of the fake Telegram, as the Bot API serves them."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram import Bot

from services.fakes.telegram import FakeTelegram
from shared.attachments import CLOUD_DOWNLOAD_LIMIT
from shared.telegram import BadRequest, TelegramClient

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 300


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def sent_document(fake: FakeTelegram, content: bytes = PDF) -> str:
    message = fake.inject_media(100, "document", content, file_name="spec.pdf")
    file_id: str = message["message"]["document"]["file_id"]
    return file_id


async def test_get_file_answers_the_id_size_and_path_of_a_sent_file(
    fake_telegram: FakeTelegram, telegram_client: TelegramClient
) -> None:
    file_id = sent_document(fake_telegram)

    result = await telegram_client.call("getFile", {"file_id": file_id})

    stored = fake_telegram.files.get(file_id)
    assert stored is not None
    assert result == {
        "file_id": file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(PDF),
        "file_path": stored.file_path,
    }
    assert result["file_path"].endswith(".pdf")


async def test_a_file_downloads_byte_for_byte_at_the_path_get_file_gave(
    fake_telegram: FakeTelegram, bot: Bot
) -> None:
    file_id = sent_document(fake_telegram)

    file = await bot.get_file(file_id)
    assert file.file_path is not None
    downloaded = io.BytesIO()
    await bot.download_file(file.file_path, downloaded)

    assert downloaded.getvalue() == PDF
    assert fake_telegram.files.downloads == [file.file_path]


async def test_a_download_has_its_length_and_a_type_guessed_from_its_path(
    fake_telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    message = fake_telegram.inject_media(100, "photo", b"\xff\xd8" + b"p" * 3000)
    stored = fake_telegram.files.get(message["message"]["photo"][-1]["file_id"])
    assert stored is not None

    url = f"{fake_telegram.url}/file/bot{fake_telegram.token}/{stored.file_path}"
    async with http.get(url) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "image/jpeg"
        assert response.content_length == 3002


async def test_get_file_refuses_a_file_over_the_download_limit(
    fake_telegram: FakeTelegram, telegram_client: TelegramClient
) -> None:
    file_id = sent_document(fake_telegram, b"x" * (CLOUD_DOWNLOAD_LIMIT + 1))

    with pytest.raises(BadRequest, match=r"^Bad Request: file is too big$"):
        await telegram_client.call("getFile", {"file_id": file_id})


async def test_a_raised_download_limit_locates_a_bigger_file(
    fake_telegram: FakeTelegram, telegram_client: TelegramClient
) -> None:
    fake_telegram.files.download_limit = CLOUD_DOWNLOAD_LIMIT * 2
    file_id = sent_document(fake_telegram, b"x" * (CLOUD_DOWNLOAD_LIMIT + 1))

    result = await telegram_client.call("getFile", {"file_id": file_id})

    assert result["file_size"] == CLOUD_DOWNLOAD_LIMIT + 1


@pytest.mark.parametrize("file_id", ["AgACnot-a-file", ""])
async def test_get_file_refuses_an_id_it_never_gave(
    fake_telegram: FakeTelegram, telegram_client: TelegramClient, file_id: str
) -> None:
    with pytest.raises(BadRequest, match=r"^Bad Request: invalid file_id$"):
        await telegram_client.call("getFile", {"file_id": file_id})


async def test_a_download_with_another_token_is_not_found(
    fake_telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    file_id = sent_document(fake_telegram)
    stored = fake_telegram.files.get(file_id)
    assert stored is not None

    url = f"{fake_telegram.url}/file/bot123456:other-token/{stored.file_path}"
    async with http.get(url) as response:
        assert response.status == 404
        assert await response.json() == {
            "ok": False,
            "error_code": 404,
            "description": "Not Found",
        }
    assert fake_telegram.files.downloads == []


async def test_a_download_of_a_path_it_never_gave_is_not_found(
    fake_telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    sent_document(fake_telegram)

    url = f"{fake_telegram.url}/file/bot{fake_telegram.token}/documents/file_99.pdf"
    async with http.get(url) as response:
        assert response.status == 404
    assert fake_telegram.files.downloads == []


async def test_a_download_cut_short_ends_before_its_length(
    fake_telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    file_id = sent_document(fake_telegram)
    stored = fake_telegram.files.get(file_id)
    assert stored is not None
    fake_telegram.files.cut_downloads_at = 1000

    url = f"{fake_telegram.url}/file/bot{fake_telegram.token}/{stored.file_path}"
    async with http.get(url) as response:
        assert response.content_length == len(PDF)
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()
