"""The relay writes to a user in the language of their messages (``IncomingMessage.language``),
kept per chat so a later note, or another relay, finds it."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aioredis

from services.fakes.telegram import FakeTelegram
from services.fakes.workers import FakeWorkerManager
from services.relay.languages import ChatLanguages, language_key
from shared import keys
from shared.schemas import STOP_BUTTON_DATA, IncomingMessage, MessageKind, encode_entry
from shared.texts import RU, for_language
from tests.services.relay.conftest import StartRelay, chat_of, incoming_message

USER = 31
CHAT = chat_of(USER)
EN = for_language("en")


async def write(
    redis: aioredis.Redis, text: str, language: str, kind: MessageKind = "message"
) -> None:
    """What the ingress queues for a user writing in ``language``."""
    base = incoming_message(USER, text)
    fields: dict[str, Any] = {name: getattr(base, name) for name in base.__struct_fields__}
    message = IncomingMessage(**{**fields, "kind": kind, "language": language})
    await redis.xadd(keys.incoming(keys.partition_of(USER)), encode_entry(message))  # type: ignore[arg-type]


async def test_an_english_user_gets_the_working_note_in_english(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_telegram.lift_flood_limits()
    fake_workers.script(USER, think_s=2.5)
    await start_relay(WORKING_NOTE_AFTER_S="0.5")

    await write(redis, "take your time", "en")
    (note,) = await fake_telegram.wait_for_messages(CHAT, 1, timeout=10)

    assert note["text"] == EN.working_note.format(minutes=1)
    stop = [[{"text": EN.working_note_stop, "callback_data": STOP_BUTTON_DATA}]]
    assert note["reply_markup"]["inline_keyboard"] == stop


async def test_stop_is_answered_in_the_language_it_was_sent_in(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_relay: StartRelay
) -> None:
    await start_relay()

    await write(redis, "/stop", "en", kind="cancel")
    await fake_telegram.wait_for_messages(CHAT, 1, timeout=10)
    await write(redis, "/stop", "ru", kind="cancel")
    await fake_telegram.wait_for_messages(CHAT, 2, timeout=10)

    assert fake_telegram.chat(CHAT).texts == [EN.nothing_to_stop, RU.nothing_to_stop]


async def test_a_po_that_cannot_start_is_reported_in_the_users_language(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_workers.script(USER, outcome="STARTING")
    await start_relay(PO_START_TIMEOUT_S="1")

    await write(redis, "hi", "en")

    await fake_telegram.wait_for_messages(CHAT, 1, timeout=10)
    assert fake_telegram.chat(CHAT).texts == [EN.po_start_slow]


async def test_a_chats_language_is_kept_in_redis_for_any_relay(redis: aioredis.Redis) -> None:
    await ChatLanguages(redis).note(CHAT, "en")

    assert await redis.get(language_key(CHAT)) == b"en"
    assert (await ChatLanguages(redis).texts(CHAT)).language == "en", "a fresh relay reads it"
    assert (await ChatLanguages(redis).texts(CHAT + 1)).language == "ru", "unknown: the default"
    assert (await ChatLanguages(redis, "en").texts(CHAT + 1)).language == "en"


@pytest.mark.parametrize("po_contract", ["worker-streams"])
async def test_a_result_with_nothing_to_show_is_said_in_the_users_language(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_workers.script(USER, wrapper_output="structured_bare")
    await start_relay()

    await write(redis, "hi", "en")

    await fake_telegram.wait_for_messages(CHAT, 1, timeout=10)
    assert fake_telegram.chat(CHAT).texts == [EN.po_result_generic]
