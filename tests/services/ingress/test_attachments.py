"""Files from users: a known user's file reaches the PO as one message with its attachment.

The real ingress against the fake Telegram (which shapes photos, documents,
voice... as Telegram does) and a real Redis; what the PO will get is read
back from ``bot:incoming:{p}``. Links are checked with ``shared.file_links.verify``,
as the ``files`` process checks them. What is not passed on: ``test_attachments_refused``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiohttp
import msgspec
import pytest
import redis.asyncio as aioredis

from services.fakes.api import FakeApi
from services.fakes.telegram import FakeTelegram
from shared.attachments import Attachment
from shared.file_links import PATH_PREFIX, verify
from shared.texts import RU
from tests.services.ingress.conftest import (
    FILES_KEY,
    FILES_ON,
    FILES_URL,
    JPEG,
    KNOWN,
    StartIngress,
    handled,
    post,
    queued,
    the_message,
    update_from,
    webhook_env_on_a_free_port,
)

TTL_S = 24 * 60 * 60


def link_of(url: str) -> tuple[str, str, str]:
    """A file link's file id, expiry and signature."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == FILES_URL
    assert parts.path.startswith(PATH_PREFIX)
    query = parse_qs(parts.query)
    return unquote(parts.path.removeprefix(PATH_PREFIX)), query["exp"][0], query["sig"][0]


def opens(url: str, file_id: str) -> bool:
    """Whether the files process would serve ``file_id`` at ``url`` now."""
    linked, expires, sig = link_of(url)
    return linked == file_id and verify(FILES_KEY.encode(), file_id, expires, sig, now=time.time())


@pytest.mark.usefixtures("files_on")
async def test_a_photo_reaches_the_po_as_its_largest_size_with_the_caption_as_text(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    update = fake_telegram.inject_media(KNOWN, "photo", JPEG, caption="the page is broken")
    await handled(fake_telegram, update)

    message = await the_message(redis)
    assert (message.kind, message.text) == ("message", "the page is broken")
    (attachment,) = message.attachments
    largest = update["message"]["photo"][-1]
    assert attachment == Attachment(
        kind="photo", url=attachment.url, size=len(JPEG), width=1280, height=720
    )
    assert opens(attachment.url, largest["file_id"])
    assert message.media_group_id == ""
    # The file went on: no "the file stayed behind" note, only the session's keyboard.
    assert fake_telegram.chat(KNOWN).texts == [RU.keyboard_note]


@pytest.mark.usefixtures("files_on")
async def test_a_file_link_works_for_files_link_ttl_s_from_when_the_message_arrived(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    before = int(time.time())
    await handled(fake_telegram, fake_telegram.inject_media(KNOWN, "photo", JPEG))
    after = time.time()

    (attachment,) = (await the_message(redis)).attachments
    file_id, expires, sig = link_of(attachment.url)
    assert before + TTL_S <= int(expires) <= after + TTL_S
    assert verify(FILES_KEY.encode(), file_id, expires, sig, now=int(expires))
    assert not verify(FILES_KEY.encode(), file_id, expires, sig, now=int(expires) + 1)


@pytest.mark.usefixtures("files_on")
async def test_a_document_brings_its_name_type_and_size(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    pdf = b"%PDF-1.7 " + b"x" * 300
    update = fake_telegram.inject_media(
        KNOWN, "document", pdf, file_name="spec.pdf", mime_type="application/pdf"
    )
    await handled(fake_telegram, update)

    message = await the_message(redis)
    assert message.text == ""
    (attachment,) = message.attachments
    assert attachment == Attachment(
        kind="document",
        url=attachment.url,
        file_name="spec.pdf",
        mime_type="application/pdf",
        size=len(pdf),
    )
    assert opens(attachment.url, update["message"]["document"]["file_id"])


@pytest.mark.usefixtures("files_on")
async def test_a_voice_message_brings_its_duration(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    update = fake_telegram.inject_media(
        KNOWN, "voice", b"OggS" + b"v" * 900, mime_type="audio/ogg", duration=7
    )
    await handled(fake_telegram, update)

    (attachment,) = (await the_message(redis)).attachments
    assert attachment == Attachment(
        kind="voice", url=attachment.url, mime_type="audio/ogg", size=904, duration=7
    )
    assert opens(attachment.url, update["message"]["voice"]["file_id"])


@pytest.mark.usefixtures("files_on")
@pytest.mark.parametrize(
    ("kind", "given", "expected"),
    [
        (
            "audio",
            {"file_name": "song.mp3", "mime_type": "audio/mpeg"},
            {"file_name": "song.mp3", "mime_type": "audio/mpeg", "duration": 3},
        ),
        (
            "video",
            {"file_name": "bug.mp4", "mime_type": "video/mp4"},
            {
                "file_name": "bug.mp4",
                "mime_type": "video/mp4",
                "width": 1280,
                "height": 720,
                "duration": 3,
            },
        ),
        ("video_note", {"width": 240}, {"width": 240, "height": 240, "duration": 3}),
        (
            "animation",
            {"mime_type": "video/mp4"},
            {"mime_type": "video/mp4", "width": 1280, "height": 720, "duration": 3},
        ),
    ],
)
async def test_each_kind_of_file_reaches_the_po_with_what_telegram_said_of_it(
    fake_telegram: FakeTelegram,
    redis: aioredis.Redis,
    kind: str,
    given: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    update = fake_telegram.inject_media(KNOWN, kind, b"m" * 2048, caption="see", **given)
    await handled(fake_telegram, update)

    message = await the_message(redis)
    (attachment,) = message.attachments
    assert message.text == "see"
    assert attachment == Attachment(kind=kind, url=attachment.url, size=2048, **expected)  # type: ignore[arg-type]
    assert opens(attachment.url, update["message"][kind]["file_id"])


@pytest.mark.usefixtures("files_on")
async def test_each_part_of_an_album_goes_on_in_order_with_the_album_id(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    parts = [
        fake_telegram.inject_media(KNOWN, "photo", JPEG, caption="three", media_group_id="g1"),
        fake_telegram.inject_media(KNOWN, "photo", JPEG + b"2", media_group_id="g1"),
        fake_telegram.inject_media(
            KNOWN, "document", b"log", file_name="app.log", media_group_id="g1"
        ),
    ]
    for part in parts:
        await handled(fake_telegram, part)

    messages = await queued(redis)
    assert [m.media_group_id for m in messages] == ["g1", "g1", "g1"]
    assert [m.message_id for m in messages] == [p["message"]["message_id"] for p in parts]
    assert [m.text for m in messages] == ["three", "", ""]
    assert [[a.kind for a in m.attachments] for m in messages] == [
        ["photo"],
        ["photo"],
        ["document"],
    ]
    file_ids = [
        parts[0]["message"]["photo"][-1]["file_id"],
        parts[1]["message"]["photo"][-1]["file_id"],
        parts[2]["message"]["document"]["file_id"],
    ]
    for message, file_id in zip(messages, file_ids, strict=True):
        assert opens(message.attachments[0].url, file_id)


def album_part(fake_telegram: FakeTelegram, update_id: int, caption: str = "") -> dict[str, Any]:
    """One photo of album ``g2`` as Telegram would post it to a webhook."""
    stored = fake_telegram.files.add(JPEG + bytes([update_id % 256]), kind="photo")
    update = update_from(KNOWN, "", update_id)
    message = update["message"]
    del message["text"]
    message["message_id"] = update_id
    message["media_group_id"] = "g2"
    message["photo"] = [
        {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id, "width": 800,
         "height": 600, "file_size": stored.size},
    ]  # fmt: skip
    if caption:
        message["caption"] = caption
    return update


async def test_an_album_posted_at_once_to_two_webhook_replicas_is_stored_in_order(
    fake_api: FakeApi,
    fake_telegram: FakeTelegram,
    redis: aioredis.Redis,
    known_user: dict[str, Any],
    start_ingress: StartIngress,
    http: aiohttp.ClientSession,
) -> None:
    first_env, second_env = webhook_env_on_a_free_port(), webhook_env_on_a_free_port()
    await start_ingress(**first_env, **FILES_ON)
    await start_ingress(**second_env, **FILES_ON)
    await fake_telegram.wait_for_call("setWebhook", count=2)
    asked = len(fake_api.requests_to("/api/users/"))
    fake_api.delay_next("/api/users/", 1.0)  # the first part's auth is slow
    parts = [
        album_part(fake_telegram, 501, "three"),
        *(album_part(fake_telegram, i) for i in (502, 503)),
    ]

    first = asyncio.create_task(post(http, first_env["WEBHOOK_URL"], msgspec.json.encode(parts[0])))
    await fake_api.wait_for_request("/api/users/", count=asked + 1)  # the first is in flight
    rest = [post(http, second_env["WEBHOOK_URL"], msgspec.json.encode(p)) for p in parts[1:]]
    statuses = [*await asyncio.gather(*rest), await first]

    assert statuses == [200, 200, 200]
    messages = await queued(redis)
    assert [(m.update_id, m.media_group_id, m.text) for m in messages] == [
        (501, "g2", "three"),
        (502, "g2", ""),
        (503, "g2", ""),
    ]
    for message, part in zip(messages, parts, strict=True):
        assert opens(message.attachments[0].url, part["message"]["photo"][0]["file_id"])


@pytest.mark.usefixtures("files_on")
async def test_a_25_mb_document_goes_on_marked_too_large_and_the_user_is_told(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    size = 25 * 1024 * 1024
    update = fake_telegram.inject_media(
        KNOWN, "document", b"\0" * size, caption="logs", file_name="report.pdf"
    )
    await handled(fake_telegram, update)

    message = await the_message(redis)
    assert message.text == "logs"
    (attachment,) = message.attachments
    assert (attachment.too_large, attachment.size, attachment.file_name) == (
        True,
        size,
        "report.pdf",
    )
    told = RU.file_too_large.format(name="файл «report.pdf»", limit=20)
    assert "report.pdf" in told
    assert "20 МБ" in told
    assert fake_telegram.chat(KNOWN).texts == [told, RU.keyboard_note]


@pytest.mark.usefixtures("files_on")
async def test_a_file_at_the_limit_is_not_too_large(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    update = fake_telegram.inject_media(KNOWN, "video", b"\0" * (20 * 1024 * 1024))
    await handled(fake_telegram, update)

    (attachment,) = (await the_message(redis)).attachments
    assert attachment.too_large is False
    assert fake_telegram.chat(KNOWN).texts == [RU.keyboard_note]


@pytest.mark.usefixtures("files_on")
async def test_a_too_large_file_without_a_name_is_named_by_its_kind(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    update = fake_telegram.inject_media(KNOWN, "video_note", b"\0" * (21 * 1024 * 1024))
    await handled(fake_telegram, update)

    (attachment,) = (await the_message(redis)).attachments
    assert attachment.too_large is True
    told = RU.file_too_large.format(name="видеосообщение", limit=20)
    assert fake_telegram.chat(KNOWN).texts == [told, RU.keyboard_note]
