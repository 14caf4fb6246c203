"""A PO that does not come up, and "typing…" while a PO works (across a takeover too).

A start that fails (or takes longer than ``PO_START_TIMEOUT_S``) is told to
the user once; their message stays in the PO's input stream, where the
next worker started for them reads it.
"""

from __future__ import annotations

import itertools
import time

import redis.asyncio as aioredis

from services.fakes.telegram import FakeTelegram
from services.fakes.workers import FakeWorkerManager
from shared import keys
from shared.texts import RU
from tests.services.relay.conftest import (
    RunningRelay,
    StartRelay,
    answered,
    chat_of,
    take_over,
    wait_for_value,
    wait_until,
    write_message,
)

USER = 23
CHAT = chat_of(USER)


async def told_the_start_failed(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, text: str
) -> None:
    """The user writes ``text`` to a PO that fails to start: told so, and the spawn settled."""
    await answered(fake_telegram, redis, USER, text)
    await wait_for_value(lambda: redis.exists(keys.spawn_guard(USER)), 0)


async def typing_ran_to_its_cap(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, relay: RunningRelay
) -> None:
    """The user writes to a PO still starting: "typing…" shows, until the relay gives it up."""
    await write_message(redis, USER, "hi")
    await fake_telegram.wait_for(lambda: fake_telegram.chat(CHAT).actions, timeout=10)
    await wait_until(lambda: not relay.relay.typing.waiting(USER))


async def test_a_po_that_fails_to_start_is_told_and_the_message_answered_by_the_next(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_workers.script(USER, outcome="FAILED")
    await start_relay()

    await told_the_start_failed(fake_telegram, redis, "are you there?")

    assert fake_telegram.chat(CHAT).texts == [RU.po_failed]
    assert await redis.xlen(keys.po_input(USER)) == 1

    # The worker-manager is mended; the user writes again: a new worker answers both.
    fake_workers.script(USER, outcome="RUNNING")
    await write_message(redis, USER, "hello?")

    await fake_telegram.wait_for_messages(CHAT, 3, timeout=10)
    assert fake_telegram.chat(CHAT).texts == [
        RU.po_failed,
        "echo: are you there?",
        "echo: hello?",
    ]
    assert len(fake_workers.commands) == 2


async def test_a_po_failing_again_after_an_earlier_failure_is_told_again(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    # The status is FAILED before the spawn and after it: only the
    # worker-manager's answer tells the new failure from the old one.
    fake_workers.script(USER, outcome="FAILED")
    await start_relay()
    await told_the_start_failed(fake_telegram, redis, "one")

    await write_message(redis, USER, "two")

    await fake_telegram.wait_for_messages(CHAT, 2, timeout=10)
    assert fake_telegram.chat(CHAT).texts == [RU.po_failed, RU.po_failed]
    assert len(fake_workers.commands) == 2


async def test_a_po_slower_than_the_start_timeout_is_told_and_answers_once_up(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_workers.script(USER, outcome="STARTING")
    await start_relay(PO_START_TIMEOUT_S="1")

    await write_message(redis, USER, "hi")

    await fake_telegram.wait_for_messages(CHAT, 1, timeout=10)
    assert fake_telegram.chat(CHAT).texts == [RU.po_start_slow]
    await fake_workers.set_status(USER, "RUNNING")
    await fake_telegram.wait_for_messages(CHAT, 2, timeout=10)
    assert fake_telegram.chat(CHAT).texts == [RU.po_start_slow, "echo: hi"]
    assert len(fake_workers.commands) == 1


async def test_typing_is_shown_every_few_seconds_until_the_reply(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_workers.script(USER, reply_delay=6.0)
    relay = await start_relay()

    await write_message(redis, USER, "think hard")

    [reply] = await fake_telegram.wait_for_messages(CHAT, 1, timeout=15)
    chat = fake_telegram.chat(CHAT)
    replied_at = next(c.finished for c in fake_telegram.calls_to("sendMessage") if c.ok)
    times = [a.time for a in chat.actions if a.action == "typing"]
    assert len(times) >= 2
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) <= 5.0
    assert replied_at - times[-1] <= 5.0  # shown until the reply came
    assert not relay.relay.typing.waiting(USER)  # and no longer: no action is due any more
    assert reply["text"] == "echo: think hard"


async def test_typing_stops_at_its_cap(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_workers.script(USER, outcome="STARTING")
    relay = await start_relay(TYPING_CAP_S="1.5")

    await typing_ran_to_its_cap(fake_telegram, redis, relay)

    assert len(fake_telegram.chat(CHAT).actions) == 1


async def test_typing_goes_on_when_another_relay_takes_the_user_over(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_workers.script(USER, reply_delay=8.0)
    first = await start_relay("relay-a")
    await write_message(redis, USER, "think hard")
    chat = fake_telegram.chat(CHAT)
    await fake_telegram.wait_for(lambda: chat.actions, timeout=10)

    await start_relay("relay-b")
    await first.stopped()  # relay-a leaves: relay-b takes every partition
    handed_over = time.monotonic()

    await fake_telegram.wait_for(lambda: chat.actions[-1].time > handed_over, timeout=10)
    [reply] = await fake_telegram.wait_for_messages(CHAT, 1, timeout=15)
    replied_at = next(c.finished for c in fake_telegram.calls_to("sendMessage") if c.ok)
    assert reply["text"] == "echo: think hard"
    assert replied_at - chat.actions[-1].time <= 5.0  # shown until the reply came


async def test_a_relay_taking_over_after_the_reply_shows_no_typing(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    first = await start_relay("relay-a")
    await answered(fake_telegram, redis, USER, "quick one")

    second = await take_over(first, start_relay, USER)

    assert not second.relay.typing.waiting(USER)


async def test_a_relay_taking_over_after_a_failed_start_was_told_shows_no_typing(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_workers.script(USER, outcome="FAILED")
    first = await start_relay("relay-a")
    await told_the_start_failed(fake_telegram, redis, "are you there?")

    second = await take_over(first, start_relay, USER)

    assert fake_telegram.chat(CHAT).texts == [RU.po_failed]
    assert not second.relay.typing.waiting(USER)


async def test_a_relay_taking_over_after_the_typing_cap_shows_no_typing(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_workers.script(USER, outcome="STARTING")
    first = await start_relay("relay-a", TYPING_CAP_S="1.5")
    await typing_ran_to_its_cap(fake_telegram, redis, first)

    second = await take_over(first, start_relay, USER, TYPING_CAP_S="1.5")

    assert not second.relay.typing.waiting(USER)
    # Expired records are cleaned up.
    assert await redis.hlen(f"bot:typing:{keys.partition_of(USER)}") == 0
