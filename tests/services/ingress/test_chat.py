"""Chat messages: a known user's text is stored for the relays, once, with every field."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
import redis.asyncio as aioredis

from services.fakes.telegram import FakeTelegram
from services.ingress.intake import dedupe_key
from shared.texts import RU
from tests.services.ingress.conftest import (
    KNOWN,
    KNOWN_USER_ID,
    StartIngress,
    handled,
    queued,
)

GROUP = -4242


def user_message(fake_telegram: FakeTelegram, chat_id: int, **content: Any) -> dict[str, Any]:
    """A raw ``message`` update from the chat's user with ``content`` (photo, sticker...)."""
    chat = fake_telegram.chat(chat_id)
    message = {
        "message_id": chat.next_message_id(),
        "from": fake_telegram.user(KNOWN),
        "chat": chat.info,
        "date": int(time.time()),
        **content,
    }
    return fake_telegram.inject_update({"message": message})


PHOTO = [{"file_id": "AgAD", "file_unique_id": "AQAD", "width": 90, "height": 90}]
STICKER = {
    "file_id": "CAAD", "file_unique_id": "AgAD", "type": "regular", "width": 512,
    "height": 512, "is_animated": False, "is_video": False,
}  # fmt: skip
DOCUMENT = {"file_id": "BQAD", "file_unique_id": "AgAE", "file_name": "spec.pdf"}
VOICE = {"file_id": "AwAD", "file_unique_id": "AgAF", "duration": 3}


@pytest.fixture
async def running(known_user: dict[str, Any], start_ingress: StartIngress) -> None:
    await start_ingress()


@pytest.mark.usefixtures("running")
async def test_a_forwarded_message_carries_every_field_the_relays_need(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    before = datetime.now(UTC)
    update = fake_telegram.inject_message(KNOWN, "hello <world> & more")
    await handled(fake_telegram, update)

    (message,) = await queued(redis)
    assert message.user_id == KNOWN_USER_ID
    assert message.telegram_id == KNOWN
    assert message.chat_id == KNOWN
    assert message.message_id == update["message"]["message_id"]
    assert message.text == "hello <world> & more"
    assert message.update_id == update["update_id"]
    stamp = datetime.fromisoformat(message.timestamp.replace("Z", "+00:00"))
    assert before <= stamp <= datetime.now(UTC)
    # Nothing to answer, the PO replies: only the keyboard, as the session's first message.
    assert fake_telegram.chat(KNOWN).texts == [RU.keyboard_note]


@pytest.mark.usefixtures("running")
async def test_an_update_delivered_twice_is_forwarded_once(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    update = fake_telegram.inject_message(KNOWN, "only once")
    await handled(fake_telegram, update)

    fake_telegram.inject_update(update, assign_id=False)
    await handled(fake_telegram, update)

    assert [m.text for m in await queued(redis)] == ["only once"]
    ttl = await redis.ttl(dedupe_key(update["update_id"]))
    assert 23 * 3600 < ttl <= 24 * 3600


@pytest.mark.usefixtures("running")
async def test_a_group_message_gets_an_explanation_and_is_not_forwarded(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    update = fake_telegram.inject_message(GROUP, "hi bot", user_id=KNOWN)
    await handled(fake_telegram, update)

    assert fake_telegram.chat(GROUP).texts == [RU.private_only]
    assert await queued(redis) == []


@pytest.mark.usefixtures("running")
@pytest.mark.parametrize(
    "content",
    [{"photo": PHOTO}, {"sticker": STICKER}, {"document": DOCUMENT}, {"voice": VOICE}],
    ids=["photo", "sticker", "document", "voice"],
)
async def test_a_message_without_text_gets_the_only_text_reply(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, content: dict[str, Any]
) -> None:
    await handled(fake_telegram, user_message(fake_telegram, KNOWN, **content))

    assert fake_telegram.chat(KNOWN).texts == [RU.only_text]
    assert await queued(redis) == []


@pytest.mark.usefixtures("running")
@pytest.mark.parametrize("content", [{"photo": PHOTO}, {"document": DOCUMENT}])
async def test_a_file_with_a_caption_forwards_the_caption_and_says_the_file_stayed(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, content: dict[str, Any]
) -> None:
    update = user_message(fake_telegram, KNOWN, caption="look at this", **content)
    await handled(fake_telegram, update)

    (message,) = await queued(redis)
    assert message.text == "look at this"
    assert message.update_id == update["update_id"]
    assert fake_telegram.chat(KNOWN).texts == [RU.caption_forwarded, RU.keyboard_note]


@pytest.mark.usefixtures("running")
async def test_an_edited_message_is_not_forwarded_a_second_time(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    update = fake_telegram.inject_message(KNOWN, "frist")
    await handled(fake_telegram, update)

    edit = fake_telegram.inject_edited_message(KNOWN, update["message"]["message_id"], "first")
    await handled(fake_telegram, edit)

    assert [m.text for m in await queued(redis)] == ["frist"]
    assert fake_telegram.chat(KNOWN).texts == [RU.keyboard_note, RU.edit_not_forwarded]


@pytest.mark.usefixtures("running")
async def test_text_starting_with_a_slash_that_is_not_a_command_is_forwarded(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    await handled(fake_telegram, fake_telegram.inject_message(KNOWN, "/ why not?"))
    await handled(fake_telegram, fake_telegram.inject_message(KNOWN, "/путь/к/файлу"))

    assert [m.text for m in await queued(redis)] == ["/ why not?", "/путь/к/файлу"]


@pytest.mark.usefixtures("running")
@pytest.mark.parametrize(
    "raw",
    [
        {"message": {"message_id": "not a number"}},
        {"message": "just a string"},
        {},
    ],
    ids=["bad-field", "wrong-type", "empty"],
)
async def test_a_malformed_update_is_skipped_and_the_next_one_goes_through(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, raw: dict[str, Any]
) -> None:
    bad = fake_telegram.inject_update(raw)
    good = fake_telegram.inject_message(KNOWN, "still here")

    await handled(fake_telegram, bad)
    await handled(fake_telegram, good)

    assert [m.text for m in await queued(redis)] == ["still here"]


@pytest.mark.usefixtures("running")
async def test_huge_and_strange_text_is_forwarded_without_harm(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    strange = "\u202e\u0000\ufeff👩‍👩‍👧‍👦" + "z\u0301" * 3 + "\U0010ffff"
    huge = "ы" * 100_000

    for text in (strange, huge):
        update = fake_telegram.inject_message(KNOWN, text)
    await handled(fake_telegram, update)

    assert [m.text for m in await queued(redis)] == [strange, huge]
