"""The control API's files: a user uploads one (``/chats/{id}/media``), the page shows any
stored one (``/files/{file_id}``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot

from services.fakes.telegram import FakeTelegram
from services.fakes.workers.files import demo_png
from tests.fakes.telegram import PRIVATE


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def upload(content: bytes, file_name: str, content_type: str, **fields: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", content, filename=file_name, content_type=content_type)
    for name, value in fields.items():
        form.add_field(name, value)
    return form


async def send_file(http: aiohttp.ClientSession, fake: FakeTelegram, form: aiohttp.FormData) -> Any:
    async with http.post(f"{fake.control_url}/chats/{PRIVATE}/media", data=form) as resp:
        assert resp.status == 200, await resp.text()
        return (await resp.json())["result"]


async def test_an_uploaded_png_arrives_as_a_photo_with_its_caption_and_is_served_back(
    fake_telegram: FakeTelegram, bot: Bot, http: aiohttp.ClientSession
) -> None:
    png = demo_png()
    form = upload(png, "shot.png", "image/png", caption="сломалось", width="96", height="64")
    await send_file(http, fake_telegram, form)

    [update] = await bot.get_updates()
    message = update.message
    assert message is not None
    assert message.photo is not None
    assert message.caption == "сломалось"
    largest = message.photo[-1]
    assert (largest.width, largest.height, largest.file_size) == (96, 64, len(png))
    async with http.get(f"{fake_telegram.control_url}/files/{largest.file_id}") as resp:
        assert resp.status == 200
        assert resp.content_type == "image/png"
        assert resp.headers["Content-Disposition"].startswith("inline")
        assert await resp.read() == png


async def test_any_other_file_arrives_as_a_document_with_its_name_type_and_size(
    fake_telegram: FakeTelegram, bot: Bot, http: aiohttp.ClientSession
) -> None:
    await send_file(http, fake_telegram, upload(b"# notes\n", "notes.md", "text/markdown"))

    [update] = await bot.get_updates()
    message = update.message
    assert message is not None
    document = message.document
    assert document is not None
    assert (document.file_name, document.mime_type, document.file_size) == (
        "notes.md",
        "text/markdown",
        8,
    )
    assert message.caption is None
    async with http.get(f"{fake_telegram.control_url}/files/{document.file_id}") as resp:
        assert resp.headers["Content-Disposition"].startswith("attachment")
        assert await resp.read() == b"# notes\n"


async def test_files_sent_with_one_media_group_id_arrive_as_one_album_from_the_user_named(
    fake_telegram: FakeTelegram, bot: Bot, http: aiohttp.ClientSession
) -> None:
    for name in ("a.png", "b.png"):
        form = upload(demo_png(), name, "image/png", media_group_id="album-7", user_id="4242")
        await send_file(http, fake_telegram, form)

    updates = await bot.get_updates()

    messages = [u.message for u in updates if u.message is not None]
    assert [m.media_group_id for m in messages] == ["album-7", "album-7"]
    assert all(m.photo for m in messages)
    assert {m.from_user.id for m in messages if m.from_user is not None} == {PRIVATE}


@pytest.mark.parametrize(
    ("content", "fields", "reason"),
    [
        (b"", {}, "empty"),
        (b"x", {"kind": "sticker"}, "kind"),
        (b"x", {"caption": "я" * 1025}, "caption"),
        (b"x", {"width": "0", "height": "10"}, "width"),
    ],
)
async def test_a_bad_upload_is_refused_with_400_and_sends_nothing(
    fake_telegram: FakeTelegram,
    http: aiohttp.ClientSession,
    content: bytes,
    fields: dict[str, str],
    reason: str,
) -> None:
    form = upload(content, "x.txt", "text/plain", **fields)
    async with http.post(f"{fake_telegram.control_url}/chats/{PRIVATE}/media", data=form) as resp:
        assert resp.status == 400
        assert reason in (await resp.json())["error"]
    assert fake_telegram.pending_updates == []


async def test_an_upload_without_a_file_part_is_refused_with_400(
    fake_telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    form = aiohttp.FormData({"caption": "no file"})
    form.add_field("note", b"bytes", filename="n.bin")  # multipart, but no "file" part
    async with http.post(f"{fake_telegram.control_url}/chats/{PRIVATE}/media", data=form) as resp:
        assert resp.status == 400
        assert '"file"' in (await resp.json())["error"]
    assert fake_telegram.pending_updates == []


async def test_an_unknown_file_id_is_404(
    fake_telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{fake_telegram.control_url}/files/AgACnothing") as resp:
        assert resp.status == 404
