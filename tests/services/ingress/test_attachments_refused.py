"""Files from users that do not reach the PO, and why: what the PO cannot get, strangers,
edits, and no ``FILES_SIGNING_KEY`` (the bot as it was before files).

The real ingress against the fake Telegram and the fake API, and a real Redis.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis.asyncio as aioredis
import structlog

from services.fakes.telegram import FakeTelegram
from shared.texts import RU
from tests.services.ingress.conftest import (
    FILES_KEY,
    FILES_ON,
    JPEG,
    KNOWN,
    STRANGER,
    StartIngress,
    handled,
    queued,
    the_message,
)

LOCATION = {"latitude": 59.94, "longitude": 30.31}
STICKER = {
    "file_id": "CAAD", "file_unique_id": "AgAD", "type": "regular", "width": 512,
    "height": 512, "is_animated": False, "is_video": False,
}  # fmt: skip


@pytest.mark.usefixtures("files_on")
@pytest.mark.parametrize(
    ("content", "answer"),
    [
        ({"sticker": STICKER}, "sticker"),
        ({"location": LOCATION}, "location"),
        ({"location": {**LOCATION, "live_period": 900}}, "location"),
        (
            {
                "location": LOCATION,
                "venue": {"location": LOCATION, "title": "Эрмитаж", "address": "Дворцовая пл., 2"},
            },
            "location",
        ),
        ({"contact": {"phone_number": "+79990000000", "first_name": "Bob"}}, "contact"),
        (
            {
                "poll": {
                    "id": "1",
                    "question": "Когда?",
                    "options": [
                        {"text": "Сейчас", "voter_count": 0, "persistent_id": "a"},
                        {"text": "Потом", "voter_count": 0, "persistent_id": "b"},
                    ],
                    "total_voter_count": 0,
                    "is_closed": False,
                    "is_anonymous": True,
                    "type": "regular",
                    "allows_multiple_answers": False,
                    "allows_revoting": False,
                    "members_only": False,
                }
            },
            "poll",
        ),
        ({"dice": {"emoji": "🎲", "value": 4}}, "dice"),
        ({"story": {"chat": {"id": 5, "type": "channel", "title": "News"}, "id": 9}}, "other"),
    ],
    ids=["sticker", "location", "live-location", "venue", "contact", "poll", "dice", "story"],
)
async def test_what_cannot_go_to_the_po_gets_an_answer_saying_what_can(
    fake_telegram: FakeTelegram,
    redis: aioredis.Redis,
    content: dict[str, Any],
    answer: str,
) -> None:
    await handled(fake_telegram, fake_telegram.inject_content(KNOWN, content))

    assert fake_telegram.chat(KNOWN).texts == [RU.not_passed_on[answer]]
    assert "фото, документы, голосовые" in RU.not_passed_on[answer]
    assert await queued(redis) == []


@pytest.mark.usefixtures("files_on")
async def test_a_caption_on_content_the_po_cannot_get_is_forwarded_without_a_note(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    paid = {"star_count": 5, "paid_media": [{"type": "preview", "width": 90, "height": 90}]}
    update = fake_telegram.inject_content(KNOWN, {"paid_media": paid, "caption": "for stars"})
    await handled(fake_telegram, update)

    message = await the_message(redis)
    assert (message.text, message.attachments) == ("for stars", [])
    assert fake_telegram.chat(KNOWN).texts == [RU.keyboard_note]


@pytest.mark.usefixtures("files_on")
async def test_a_live_location_moving_is_not_answered(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    update = fake_telegram.inject_content(KNOWN, {"location": {**LOCATION, "live_period": 900}})
    await handled(fake_telegram, update)
    moved = {**update["message"], "location": {**LOCATION, "latitude": 59.95, "live_period": 900}}
    edit = fake_telegram.inject_update({"edited_message": {**moved, "edit_date": int(time.time())}})
    await handled(fake_telegram, edit)

    assert fake_telegram.chat(KNOWN).texts == [RU.not_passed_on["location"]]


@pytest.mark.usefixtures("files_on")
async def test_an_edited_caption_is_not_forwarded_a_second_time(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    update = fake_telegram.inject_media(KNOWN, "photo", JPEG, caption="frist")
    await handled(fake_telegram, update)
    edited = {**update["message"], "caption": "first", "edit_date": int(time.time())}
    await handled(fake_telegram, fake_telegram.inject_update({"edited_message": edited}))

    assert [m.text for m in await queued(redis)] == ["frist"]
    assert fake_telegram.chat(KNOWN).texts == [RU.keyboard_note, RU.edit_not_forwarded]


@pytest.mark.usefixtures("files_on")
async def test_a_file_whose_id_is_not_telegrams_is_refused_not_linked(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    document = {"file_id": "../../etc/passwd", "file_unique_id": "u", "file_name": "x.pdf"}
    await handled(fake_telegram, fake_telegram.inject_content(KNOWN, {"document": document}))

    assert fake_telegram.chat(KNOWN).texts == [RU.not_passed_on["other"]]
    assert await queued(redis) == []


@pytest.mark.usefixtures("files_on")
async def test_a_strangers_photo_is_rejected_never_queued_and_never_fetched(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    update = fake_telegram.inject_media(STRANGER, "photo", JPEG, caption="let me in")
    await handled(fake_telegram, update)

    assert fake_telegram.chat(STRANGER).texts == [
        f"{RU.access_denied}\n{RU.access_denied_id.format(telegram_id=STRANGER)}"
    ]
    assert await queued(redis) == []
    assert fake_telegram.calls_to("getFile") == []


@pytest.mark.usefixtures("files_on")
async def test_the_ingress_never_fetches_a_known_users_file_itself(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    await handled(fake_telegram, fake_telegram.inject_media(KNOWN, "document", b"doc"))

    assert len(await queued(redis)) == 1
    assert fake_telegram.calls_to("getFile") == []


# --- FILES_SIGNING_KEY unset: files are not passed on ------------------------------------


async def test_without_a_signing_key_files_are_off_and_that_is_logged_once_at_start(
    known_user: dict[str, Any], start_ingress: StartIngress
) -> None:
    with structlog.testing.capture_logs() as logs:
        await start_ingress()

    assert [e for e in logs if e["event"] == "files_disabled"] == [
        {"event": "files_disabled", "reason": "FILES_SIGNING_KEY unset", "log_level": "warning"}
    ]


async def test_with_a_signing_key_files_disabled_is_not_logged(
    known_user: dict[str, Any], start_ingress: StartIngress
) -> None:
    with structlog.testing.capture_logs() as logs:
        await start_ingress(**FILES_ON)

    assert [e for e in logs if e["event"] == "files_disabled"] == []
    assert FILES_KEY not in repr(logs)


async def test_without_a_signing_key_a_captioned_photo_forwards_only_its_caption(
    fake_telegram: FakeTelegram,
    redis: aioredis.Redis,
    known_user: dict[str, Any],
    start_ingress: StartIngress,
) -> None:
    await start_ingress()
    update = fake_telegram.inject_media(KNOWN, "photo", JPEG, caption="look", media_group_id="g")
    await handled(fake_telegram, update)

    message = await the_message(redis)
    assert (message.text, message.attachments, message.media_group_id) == ("look", [], "")
    assert fake_telegram.chat(KNOWN).texts == [RU.caption_forwarded, RU.keyboard_note]


@pytest.mark.parametrize("what", ["voice", "sticker"])
async def test_without_a_signing_key_a_file_or_sticker_without_caption_gets_only_text(
    fake_telegram: FakeTelegram,
    redis: aioredis.Redis,
    known_user: dict[str, Any],
    start_ingress: StartIngress,
    what: str,
) -> None:
    await start_ingress()
    if what == "voice":
        update = fake_telegram.inject_media(KNOWN, "voice", b"OggS")
    else:
        update = fake_telegram.inject_content(KNOWN, {"sticker": STICKER})
    await handled(fake_telegram, update)

    assert fake_telegram.chat(KNOWN).texts == [RU.only_text]
    assert await queued(redis) == []
