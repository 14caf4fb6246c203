"""Files the bot sends to the fake Telegram: multipart uploads and albums, with Telegram's limits.

Sent by a real aiogram bot (its multipart encoding, its models reading the
answers) and by the project's own ``TelegramClient``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramRetryAfter
from aiogram.types import BufferedInputFile, InputMediaDocument, InputMediaPhoto, InputMediaVideo

from services.fakes.telegram import FakeTelegram, FloodLimits
from shared.telegram import ApiError, BadRequest, TelegramClient, Upload
from tests.plugins.telegram import make_client

CHAT = 100
MB = 1024 * 1024


@pytest.fixture
async def client(fake_telegram: FakeTelegram) -> AsyncIterator[TelegramClient]:
    client = make_client(fake_telegram)
    yield client
    await client.close()


def file(content: bytes, name: str = "file.bin") -> BufferedInputFile:
    return BufferedInputFile(content, filename=name)


async def test_an_uploaded_photo_comes_back_as_photo_sizes_whose_largest_holds_the_bytes(
    fake_telegram: FakeTelegram, bot: Bot
) -> None:
    content = b"\xff\xd8" + b"p" * 5000

    message = await bot.send_photo(CHAT, file(content, "shot.jpg"), caption="look")

    assert message.photo is not None
    assert [size.width for size in message.photo] == [90, 1280]
    assert message.caption == "look"
    stored = fake_telegram.files.get(message.photo[-1].file_id)
    assert stored is not None
    assert stored.content == content
    assert fake_telegram.chat(CHAT).sent[-1]["photo"][-1]["file_size"] == len(content)


async def test_an_uploaded_document_keeps_its_name_type_and_size(
    fake_telegram: FakeTelegram, client: TelegramClient
) -> None:
    upload = Upload("report.pdf", b"%PDF-1.7 body", "application/pdf")

    message = await client.call("sendDocument", {"chat_id": CHAT}, files={"document": upload})

    document = message["document"]
    assert (document["file_name"], document["mime_type"], document["file_size"]) == (
        "report.pdf",
        "application/pdf",
        13,
    )
    assert fake_telegram.files.get(document["file_id"]).content == b"%PDF-1.7 body"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("method", "kind"),
    [
        ("sendAudio", "audio"),
        ("sendVoice", "voice"),
        ("sendVideo", "video"),
        ("sendAnimation", "animation"),
    ],
)
async def test_each_kind_of_upload_is_answered_in_the_message_field_of_its_kind(
    fake_telegram: FakeTelegram, client: TelegramClient, method: str, kind: str
) -> None:
    message = await client.call(method, {"chat_id": CHAT}, files={kind: Upload("a", b"bytes")})

    assert message[kind]["file_size"] == 5
    assert "duration" in message[kind]
    assert fake_telegram.chat(CHAT).sent[-1][kind] == message[kind]


async def test_a_photo_over_10_mb_is_refused_as_too_big(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="file is too big"):
        await bot.send_photo(CHAT, file(b"p" * (10 * MB + 1), "big.jpg"))


async def test_an_upload_over_50_mb_is_refused_with_413(
    fake_telegram: FakeTelegram, client: TelegramClient
) -> None:
    upload = Upload("huge.bin", b"d" * (51 * MB))

    with pytest.raises(ApiError) as raised:
        await client.call("sendDocument", {"chat_id": CHAT}, files={"document": upload})

    assert raised.value.error_code == 413
    assert fake_telegram.chat(CHAT).sent == []


async def test_a_caption_over_1024_characters_is_refused(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_document(CHAT, file(b"doc"), caption="я" * 1025)


async def test_an_album_of_photos_and_a_video_arrives_as_one_media_group_in_order(
    fake_telegram: FakeTelegram, bot: Bot
) -> None:
    media: list[Any] = [
        InputMediaPhoto(media=file(b"one", "1.jpg"), caption="first"),
        InputMediaVideo(media=file(b"two", "2.mp4")),
        InputMediaPhoto(media=file(b"three", "3.jpg")),
    ]

    messages = await bot.send_media_group(CHAT, media)

    assert [m.content_type for m in messages] == ["photo", "video", "photo"]
    assert len({m.media_group_id for m in messages}) == 1
    assert messages[0].caption == "first"
    photo = messages[2].photo
    assert photo is not None
    assert fake_telegram.files.get(photo[-1].file_id).content == b"three"  # type: ignore[union-attr]


@pytest.mark.parametrize("count", [1, 11])
async def test_an_album_of_fewer_than_2_or_more_than_10_items_is_refused(
    bot: Bot, count: int
) -> None:
    media = [InputMediaPhoto(media=file(b"p%d" % i, f"{i}.jpg")) for i in range(count)]

    with pytest.raises(TelegramBadRequest, match="2-10 items"):
        await bot.send_media_group(CHAT, media)  # type: ignore[arg-type]


async def test_a_document_mixed_with_photos_in_an_album_is_refused(bot: Bot) -> None:
    media = [
        InputMediaPhoto(media=file(b"p", "p.jpg")),
        InputMediaDocument(media=file(b"d", "d.pdf")),
    ]

    with pytest.raises(TelegramBadRequest, match="document can't be mixed"):
        await bot.send_media_group(CHAT, media)  # type: ignore[arg-type]


async def test_an_album_naming_a_part_the_request_lacks_is_refused(
    fake_telegram: FakeTelegram, client: TelegramClient
) -> None:
    media = [
        {"type": "photo", "media": "attach://file0"},
        {"type": "photo", "media": "attach://file1"},
    ]

    with pytest.raises(BadRequest, match="attach://file1"):
        await client.call(
            "sendMediaGroup", {"chat_id": CHAT, "media": media}, files={"file0": Upload("a", b"a")}
        )

    assert fake_telegram.chat(CHAT).sent == []


async def test_uploads_spend_the_chat_flood_budget_like_messages(
    fake_telegram: FakeTelegram, bot: Bot
) -> None:
    fake_telegram.set_flood_limits(FloodLimits(chat_rate=0.001, chat_burst=1))
    await bot.send_message(CHAT, "text first")

    with pytest.raises(TelegramRetryAfter):
        await bot.send_document(CHAT, file(b"doc"))
