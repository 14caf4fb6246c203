"""The ``po-service`` profile: flat ``po:input`` entries, answers from ``po:response:{id}``.

Real relays (in the test's loop) and a real Redis; the fake PO service
speaks the platform's flat fields and rejects any entry with ``user_id``.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator

import msgspec
import pytest
import redis.asyncio as aioredis

from services.fakes.po_service import FakePOService, as_text
from services.fakes.telegram import Failure, FakeTelegram
from services.relay import keyspace
from services.relay.contracts.po_service import INPUT_STREAM, request_id_for, response_stream
from shared import keys
from shared.sending.retry import RetryPolicy
from shared.streams import DeadLetter
from shared.texts import RU
from tests.plugins.processes import StartService
from tests.processes import ServiceProcess
from tests.services.relay.conftest import (
    StartRelay,
    chat_of,
    entries,
    incoming_message,
    wait_for_value,
    wait_until,
    write_message,
)
from tests.services.relay.test_scale import lease_holders, relay_identity, wait_for_holders

USER = 7
PARTITION = keys.partition_of(USER)


@pytest.fixture
def po_contract() -> str:
    return "po-service"


@pytest.fixture
async def po_service(redis: aioredis.Redis) -> AsyncIterator[FakePOService]:
    async with FakePOService(redis) as fake:
        yield fake


async def owning(start_relay: StartRelay, **env: str) -> None:
    relay = await start_relay(**env)
    await wait_until(lambda: relay.relay.owns(PARTITION))


async def nothing_pending(redis: aioredis.Redis) -> bool:
    users = await redis.scard(keyspace.po_users(PARTITION))
    requests = await redis.hlen(keyspace.po_requests(PARTITION))
    queued = await redis.exists(keyspace.po_queue(USER))
    return users == requests == queued == 0


async def test_a_message_is_one_flat_po_input_entry_without_user_id_and_its_answer_reaches_the_chat(
    fake_telegram: FakeTelegram,
    redis: aioredis.Redis,
    start_relay: StartRelay,
    po_service: FakePOService,
) -> None:
    await owning(start_relay)
    await write_message(redis, USER, "привет")

    sent = await fake_telegram.wait_for_messages(chat_of(USER), 1)
    assert [m["text"] for m in sent] == ["echo: привет"]
    [(_, fields)] = await entries(redis, INPUT_STREAM)
    entry = as_text(fields)
    assert set(entry) == {
        "type",
        "text",
        "telegram_chat_id",
        "request_id",
        "user_name",
        "timestamp",
    }
    assert entry["type"] == "user_message"
    assert entry["text"] == "привет"
    assert entry["telegram_chat_id"] == str(chat_of(USER))
    assert uuid.UUID(entry["request_id"]).version == 4
    assert len(entry["timestamp"]) == len("2026-08-01T12:00:00")
    assert po_service.rejected == []
    # The answer's stream is deleted once delivered, and nothing is left pending.
    await wait_for_value(lambda: redis.exists(response_stream(entry["request_id"])), 0)
    await wait_for_value(lambda: nothing_pending(redis), True)


async def test_queued_messages_are_answered_in_the_order_sent_even_when_the_po_answers_out_of_order(
    fake_telegram: FakeTelegram,
    redis: aioredis.Redis,
    start_relay: StartRelay,
    po_service: FakePOService,
) -> None:
    po_service.delays["m0"] = 1.0
    await owning(start_relay)
    for n in range(4):
        await write_message(redis, USER, f"m{n}")

    sent = await fake_telegram.wait_for_messages(chat_of(USER), 4)
    assert [m["text"] for m in sent] == [f"echo: m{n}" for n in range(4)]
    # The PO did answer the later ones first: the relay held them back.
    assert (
        po_service.answered[-1] == as_text((await entries(redis, INPUT_STREAM))[0][1])["request_id"]
    )
    await wait_for_value(lambda: nothing_pending(redis), True)


async def test_an_error_answer_is_shown_as_its_text(
    fake_telegram: FakeTelegram,
    redis: aioredis.Redis,
    start_relay: StartRelay,
    po_service: FakePOService,
) -> None:
    po_service.errors["сломай"] = "Не получилось: сервис задач недоступен."
    await owning(start_relay)
    await write_message(redis, USER, "сломай")

    sent = await fake_telegram.wait_for_messages(chat_of(USER), 1)
    assert [m["text"] for m in sent] == ["Не получилось: сервис задач недоступен."]


async def test_an_unanswered_message_is_reported_once_and_its_late_answer_still_delivered(
    fake_telegram: FakeTelegram,
    redis: aioredis.Redis,
    start_relay: StartRelay,
    po_service: FakePOService,
) -> None:
    po_service.silent.add("долго")
    await owning(start_relay, PO_REPLY_TIMEOUT_S="1")
    await write_message(redis, USER, "долго")
    await write_message(redis, USER, "потом")

    # The second answer waits behind the first until the first is reported late.
    sent = await fake_telegram.wait_for_messages(chat_of(USER), 2)
    assert [m["text"] for m in sent] == [RU.po_no_answer, "echo: потом"]
    late = po_service.received[0]
    await po_service.answer(late["request_id"], late["telegram_chat_id"], "поздний ответ")

    sent = await fake_telegram.wait_for_messages(chat_of(USER), 3)
    assert [m["text"] for m in sent] == [RU.po_no_answer, "echo: потом", "поздний ответ"]
    await wait_for_value(lambda: nothing_pending(redis), True)
    assert [m["text"] for m in fake_telegram.chat(chat_of(USER)).sent].count(RU.po_no_answer) == 1


async def test_typing_shows_while_the_po_service_thinks_and_stops_with_its_answer(
    fake_telegram: FakeTelegram,
    redis: aioredis.Redis,
    start_relay: StartRelay,
    po_service: FakePOService,
) -> None:
    po_service.delays["думай"] = 1.5
    await owning(start_relay)
    await write_message(redis, USER, "думай")

    typing = await fake_telegram.wait_for_call(
        "sendChatAction", where=lambda c: c.chat_id == chat_of(USER)
    )
    assert typing.params["action"] == "typing"
    assert po_service.answered == []  # shown while waiting, before any answer
    await fake_telegram.wait_for_messages(chat_of(USER), 1)
    # The answer ended the wait: the partition's "typing…" record is gone too.
    await wait_for_value(lambda: redis.hexists(keyspace.typing(PARTITION), str(USER)), False)


def test_the_ingress_request_id_is_kept_and_an_entry_without_one_always_gets_the_same() -> None:
    message = incoming_message(USER, "hi")
    ingress_id = str(uuid.uuid4())
    message.request_id = ingress_id
    assert request_id_for(message, "1-0") == ingress_id
    message.request_id = ""
    derived = request_id_for(message, "1-0")
    assert uuid.UUID(derived).version == 4
    assert request_id_for(message, "1-0") == derived  # a retry of the entry: same request
    assert request_id_for(message, "1-1") != derived


async def test_an_answer_telegram_keeps_failing_on_is_dead_lettered_the_user_told_and_the_next_sent(
    fake_telegram: FakeTelegram,
    redis: aioredis.Redis,
    start_relay: StartRelay,
    po_service: FakePOService,
) -> None:
    # Two sends of the first answer, each through all of the sender's tries, fail with 500.
    failures = 2 * RetryPolicy().attempts
    chat = chat_of(USER)
    fake_telegram.fail_next("sendMessage", Failure.server_error(500), times=failures, chat_id=chat)
    await owning(start_relay, REPLY_MAX_ATTEMPTS="2", REPLY_MAX_AGE_S="0.1")
    await write_message(redis, USER, "one")
    await write_message(redis, USER, "two")

    await fake_telegram.wait_for_messages(chat, 2, timeout=40)
    assert fake_telegram.chat(chat).texts == [RU.reply_failed, "echo: two"]
    dead = [
        msgspec.json.decode(f[b"data"], type=DeadLetter)
        for _, f in await entries(redis, "po:response:dead")
    ]
    first = po_service.received[0]["request_id"]
    assert [(d.reason, d.deliveries, d.stream) for d in dead] == [
        ("undeliverable", 2, response_stream(first))
    ]
    assert dead[0].fields["text"] == "echo: one"
    await wait_for_value(lambda: nothing_pending(redis), True)


USERS = range(1, 31)
MESSAGES = 10
RATES = {"TELEGRAM_RATE_GLOBAL_PER_S": "5000", "TELEGRAM_RATE_CHAT_PER_S": "1000"}


def relay_process(start_service: StartService, name: str) -> ServiceProcess:
    return start_service("relay", name=name, RELAY_NAME=name, PO_CONTRACT="po-service", **RATES)


async def write_rounds(redis: aioredis.Redis, rounds: range) -> None:
    for n in rounds:
        for user_id in USERS:
            await write_message(redis, user_id, f"u{user_id} m{n}")


def collapsed(fake: FakeTelegram) -> dict[int, list[str]]:
    """Each user's messages with immediate repeats of one message folded into one."""
    return {u: [t for t, _ in itertools.groupby(fake.chat(chat_of(u)).texts)] for u in USERS}


async def test_a_relay_killed_mid_load_loses_nothing_and_keeps_each_users_order(
    fake_telegram: FakeTelegram,
    redis: aioredis.Redis,
    start_service: StartService,
    po_service: FakePOService,
) -> None:
    fake_telegram.lift_flood_limits()
    victim = relay_process(start_service, "relay-victim")
    survivor = relay_process(start_service, "relay-a")
    victim_id = await relay_identity(victim)
    await relay_identity(survivor)
    await wait_for_holders(redis, lambda h: len(h) == keys.PARTITIONS and victim_id in h.values())

    await write_rounds(redis, range(0, 5))
    await fake_telegram.wait_for(lambda: _shown(fake_telegram) >= 60, timeout=60)
    held = {p for p, holder in (await lease_holders(redis)).items() if holder == victim_id}
    victim.kill()
    await write_rounds(redis, range(5, MESSAGES))

    expected = {u: [f"echo: u{u} m{n}" for n in range(MESSAGES)] for u in USERS}
    await fake_telegram.wait_for(lambda: collapsed(fake_telegram) == expected, timeout=90)
    # The one repeat a crash can cause (docs/ARCHITECTURE.md): an answer Telegram
    # accepted just as the victim died, sent again by the next owner, right after itself.
    repeats = {u: n for u in USERS if (n := len(fake_telegram.chat(chat_of(u)).texts) - MESSAGES)}
    assert all(keys.partition_of(u) in held for u in repeats)
    assert po_service.rejected == []
    assert len(po_service.received) == len(USERS) * MESSAGES
    # Every answer's stream is gone once delivered.
    await wait_for_value(lambda: _response_streams(redis), [])
    assert survivor.returncode is None


def _shown(fake: FakeTelegram) -> int:
    return sum(len(fake.chat(chat_of(u)).texts) for u in USERS)


async def _response_streams(redis: aioredis.Redis) -> list[bytes]:
    return [key async for key in redis.scan_iter(match="po:response:*")]
