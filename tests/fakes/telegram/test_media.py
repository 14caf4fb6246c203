"""Files users send in the fake Telegram, read back by a real aiogram bot."""

from __future__ import annotations

from aiogram import Bot

from services.fakes.telegram import FakeTelegram


async def test_a_sent_photo_arrives_in_two_sizes_the_largest_last(
    fake_telegram: FakeTelegram, bot: Bot
) -> None:
    fake_telegram.inject_media(100, "photo", b"\xff\xd8" + b"p" * 5000, caption="look")

    [update] = await bot.get_updates()

    message = update.message
    assert message is not None
    assert message.photo is not None
    assert [size.width for size in message.photo] == [90, 1280]
    assert message.photo[-1].file_size == 5002
    assert message.caption == "look"


async def test_a_sent_document_keeps_its_name_type_and_album(
    fake_telegram: FakeTelegram, bot: Bot
) -> None:
    fake_telegram.inject_media(
        100,
        "document",
        b"%PDF-1.7",
        file_name="spec.pdf",
        mime_type="application/pdf",
        media_group_id="album-1",
    )

    [update] = await bot.get_updates()

    message = update.message
    assert message is not None
    assert message.document is not None
    assert (message.document.file_name, message.document.mime_type) == (
        "spec.pdf",
        "application/pdf",
    )
    assert message.document.file_size == 8
    assert message.media_group_id == "album-1"
    assert fake_telegram.files.get(message.document.file_id) is not None


async def test_a_sent_location_arrives_as_given(fake_telegram: FakeTelegram, bot: Bot) -> None:
    fake_telegram.inject_content(100, {"location": {"latitude": 59.9, "longitude": 30.3}})

    [update] = await bot.get_updates()

    assert update.message is not None
    assert update.message.location is not None
    assert update.message.location.latitude == 59.9


async def test_a_photo_smaller_than_the_thumbnail_keeps_the_full_size_largest(
    fake_telegram: FakeTelegram, bot: Bot
) -> None:
    fake_telegram.inject_media(100, "photo", b"tiny", width=40, height=30)

    [update] = await bot.get_updates()

    assert update.message is not None
    assert update.message.photo is not None
    thumb, full = update.message.photo
    assert thumb.width * thumb.height <= full.width * full.height
    assert (full.width, full.height) == (40, 30)
