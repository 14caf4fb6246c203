"""``/stop``, ``/new`` and 👀 in the ``po-service`` profile (issue 15).

The platform's ``po:input`` has no shape for a stop: the PO is not told,
the bot hides the stopped request's answer, as in the other profiles.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from services.fakes.po_service import FakePOService
from services.fakes.telegram import FakeTelegram
from services.relay.contracts.po_service import INPUT_STREAM
from shared import keys
from shared.texts import RU
from tests.services.relay.conftest import (
    StartRelay,
    chat_of,
    entries,
    wait_for_value,
    wait_until,
    write_message,
)
from tests.services.relay.test_control import write_control
from tests.services.relay.test_reactions import user_writes

USER = 31
CHAT = chat_of(USER)
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


async def test_stop_hides_the_answer_of_the_request_being_answered_and_the_next_is_shown(
    fake_telegram: FakeTelegram,
    redis: aioredis.Redis,
    start_relay: StartRelay,
    po_service: FakePOService,
) -> None:
    fake_telegram.lift_flood_limits()
    po_service.delays["slow"] = 1.5
    await owning(start_relay)

    await write_message(redis, USER, "slow")
    await write_control(redis, USER, "cancel")
    await fake_telegram.wait_for_messages(CHAT, 1, timeout=10)
    await write_message(redis, USER, "next")
    await fake_telegram.wait_for_messages(CHAT, 2, timeout=15)
    await wait_until(lambda: len(po_service.answered) == 2)

    assert fake_telegram.chat(CHAT).texts == [RU.stopped, "echo: next"]
    inputs = [fields for _, fields in await entries(redis, INPUT_STREAM)]
    assert [f[b"text"] for f in inputs] == [b"slow", b"next"], "the PO is not told"


async def test_stop_with_nothing_pending_says_so(
    fake_telegram: FakeTelegram,
    redis: aioredis.Redis,
    start_relay: StartRelay,
    po_service: FakePOService,
) -> None:
    await owning(start_relay)
    await write_control(redis, USER, "cancel")

    await fake_telegram.wait_for_messages(CHAT, 1, timeout=10)

    assert fake_telegram.chat(CHAT).texts == [RU.nothing_to_stop]


async def test_a_message_gets_eyes_and_loses_them_with_its_answer(
    fake_telegram: FakeTelegram,
    redis: aioredis.Redis,
    start_relay: StartRelay,
    po_service: FakePOService,
) -> None:
    fake_telegram.lift_flood_limits()
    po_service.delays["hello"] = 3.0  # past the 👀's second of grace, with room for its retries
    await owning(start_relay)

    message_id = await user_writes(fake_telegram, redis, "hello")
    await fake_telegram.wait_for_reaction(CHAT, message_id, "👀", timeout=10)
    await fake_telegram.wait_for_reaction(CHAT, message_id, None, timeout=10)

    assert fake_telegram.chat(CHAT).texts == ["echo: hello"]
    assert await redis.zcard(keys.pending(USER)) == 0


async def test_status_counts_po_service_requests_while_they_wait(
    fake_telegram: FakeTelegram,
    redis: aioredis.Redis,
    start_relay: StartRelay,
    po_service: FakePOService,
) -> None:
    po_service.delays["slow"] = 1.0
    await owning(start_relay)

    await write_message(redis, USER, "slow")
    await wait_until_pending(redis, 1)
    await fake_telegram.wait_for_messages(CHAT, 1, timeout=10)
    await wait_until_pending(redis, 0)  # the answer, delivered, ends it


async def wait_until_pending(redis: aioredis.Redis, count: int) -> None:
    await wait_for_value(lambda: redis.zcard(keys.pending(USER)), count)


async def test_new_in_po_service_hides_pending_answers_and_promises_no_new_assistant(
    fake_telegram: FakeTelegram,
    redis: aioredis.Redis,
    start_relay: StartRelay,
    po_service: FakePOService,
) -> None:
    fake_telegram.lift_flood_limits()
    po_service.delays["slow"] = 1.5
    await owning(start_relay)

    await write_message(redis, USER, "slow")
    await write_control(redis, USER, "restart", confirm_id=9)
    await fake_telegram.wait_for_messages(CHAT, 1, timeout=10)
    await write_message(redis, USER, "after")
    await fake_telegram.wait_for_messages(CHAT, 2, timeout=15)

    cancelled = RU.restart_cancelled.format(count=1)
    assert fake_telegram.chat(CHAT).texts == [
        RU.restarted_service.format(cancelled=cancelled),
        "echo: after",
    ]
