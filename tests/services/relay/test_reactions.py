"""👀 on a message once it is in the PO's input, removed when its final reply is delivered."""

from __future__ import annotations

import redis.asyncio as aioredis

from services.fakes.telegram import FakeTelegram
from services.fakes.workers import FakeWorkerManager
from shared import keys
from shared.schemas import IncomingMessage, encode_entry
from tests.services.relay.conftest import StartRelay, chat_of, incoming_message, wait_for_value
from tests.services.relay.test_control import write_control

USER = 31
CHAT = chat_of(USER)


async def user_writes(fake_telegram: FakeTelegram, redis: aioredis.Redis, text: str) -> int:
    """The user's message, in their chat and queued as the ingress would: its message id."""
    update = fake_telegram.inject_message(CHAT, text)
    message_id = int(update["message"]["message_id"])
    base = incoming_message(USER, text)
    fields = {name: getattr(base, name) for name in base.__struct_fields__}
    message = IncomingMessage(**{**fields, "message_id": message_id})
    await redis.xadd(keys.incoming(keys.partition_of(USER)), encode_entry(message))  # type: ignore[arg-type]
    return message_id


async def test_a_message_gets_eyes_once_stored_and_loses_them_when_answered(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_telegram.lift_flood_limits()
    fake_workers.script(USER, think_s=3)  # past the 👀's second of grace
    await start_relay()

    message_id = await user_writes(fake_telegram, redis, "hello")
    await fake_telegram.wait_for_reaction(CHAT, message_id, "👀", timeout=10)
    history = await fake_telegram.wait_for_reaction(CHAT, message_id, None, timeout=10)

    assert fake_telegram.chat(CHAT).texts == ["echo: hello"]
    assert [r.reaction for r in history] == [[{"type": "emoji", "emoji": "👀"}], []]


async def test_a_stopped_request_loses_its_eyes_at_once_when_the_po_writes_nothing_more(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_telegram.lift_flood_limits()
    fake_workers.script(USER, think_s=30)  # honours the cancel: no final will come
    await start_relay()
    message_id = await user_writes(fake_telegram, redis, "hello")
    await fake_telegram.wait_for_reaction(CHAT, message_id, "👀", timeout=10)

    await write_control(redis, USER, "cancel")

    await fake_telegram.wait_for_reaction(CHAT, message_id, None, timeout=10)


async def test_a_stopped_request_loses_its_eyes_when_its_final_reply_is_hidden(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_telegram.lift_flood_limits()
    fake_workers.script(USER, think_s=3, honours_cancel=False)
    await start_relay()
    message_id = await user_writes(fake_telegram, redis, "hello")
    await fake_telegram.wait_for_reaction(CHAT, message_id, "👀", timeout=10)

    await write_control(redis, USER, "cancel")

    await fake_telegram.wait_for_reaction(CHAT, message_id, None, timeout=10)


async def test_a_chat_that_refuses_reactions_still_gets_its_reply(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_telegram.lift_flood_limits()
    fake_telegram.set_reactions_enabled(CHAT, False)
    fake_workers.script(USER, think_s=1.5)
    await start_relay()

    await user_writes(fake_telegram, redis, "hello")
    await fake_telegram.wait_for_messages(CHAT, 1, timeout=10)

    assert fake_telegram.chat(CHAT).texts == ["echo: hello"]
    await wait_for_value(lambda: redis.hlen(keys.acks(USER)), 0)  # no removal owed
    assert len(fake_telegram.calls_to("setMessageReaction")) == 1, "tried once, not again"


async def test_a_reply_within_a_second_spends_no_reaction(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    await start_relay()

    await user_writes(fake_telegram, redis, "quick")
    await fake_telegram.wait_for_messages(CHAT, 1, timeout=10)
    await wait_for_value(lambda: redis.hlen(keys.acks(USER)), 0)

    assert fake_telegram.calls_to("setMessageReaction") == []


async def test_ack_reactions_off_sends_none(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    await start_relay(ACK_REACTIONS="false")

    await user_writes(fake_telegram, redis, "hello")
    await fake_telegram.wait_for_messages(CHAT, 1, timeout=10)

    assert fake_telegram.calls_to("setMessageReaction") == []
    assert await redis.exists(keys.acks(USER)) == 0
