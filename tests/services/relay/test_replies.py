"""Replies (spec 4.4): every output entry reaches the user's chat, in order, once.

One relay in the test's loop; the fake worker-manager's echo PO answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import msgspec
import pytest
import redis.asyncio as aioredis

from services.fakes.telegram import Failure, FakeTelegram
from services.fakes.workers import FakeWorkerManager
from shared import keys
from shared.schemas import DATA_FIELD
from shared.sending.retry import RetryPolicy
from shared.streams import DeadLetter
from shared.texts import RU
from tests.services.relay.conftest import (
    StartRelay,
    answered,
    chat_of,
    entries,
    take_over,
    wait_for_value,
    wait_until,
    write_message,
)

USER = 11
CHAT = chat_of(USER)


def words(texts: list[str]) -> list[str]:
    """The visible words of messages: a long reply's split points drop only whitespace."""
    return " ".join(texts).split()


async def test_a_10000_character_reply_with_html_specials_arrives_intact(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_telegram.lift_flood_limits()
    line = 'a <b>not bold</b> & "quoted" <script>x</script> &amp; 1 < 2 > 0 &lt;'
    text = "\n".join(f"{n:04d} {line}" for n in range(140))[:10_000]
    assert len(text) == 10_000
    await start_relay()

    await write_message(redis, USER, text)

    await fake_workers.wait_for(lambda: len(fake_workers.outputs) == 1, within=10)
    await fake_telegram.wait_for(
        lambda: words(fake_telegram.chat(CHAT).texts) == words([f"echo: {text}"]), timeout=15
    )
    sent = fake_telegram.chat(CHAT).texts
    assert len(sent) == 3  # 10,006 characters: three messages of at most 4,096
    assert "".join(sent).replace("\n", "") == f"echo: {text}".replace("\n", "")


@pytest.mark.parametrize("text_field", ["content", "response", "result"])
async def test_a_reply_under_another_field_name_is_delivered(
    text_field: str,
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_workers.script(USER, text_field=text_field)
    await start_relay()

    await write_message(redis, USER, "hi")

    await fake_telegram.wait_for_messages(CHAT, 1, timeout=10)
    assert fake_telegram.chat(CHAT).texts == ["echo: hi"]


async def test_an_undecodable_reply_is_dead_lettered_and_the_next_one_delivered(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    await start_relay()
    await answered(fake_telegram, redis, USER, "first")
    output = keys.po_output(USER)

    bad_id = await add(redis, output, b"{not json")
    no_text = await add(redis, output, b'{"request_id": "r", "is_final": true}')
    await add(redis, output, msgspec.json.encode({"text": "after", "is_final": True}))

    await fake_telegram.wait_for_messages(CHAT, 2, timeout=10)
    assert fake_telegram.chat(CHAT).texts == ["echo: first", "after"]
    dead = [
        msgspec.json.decode(f[b"data"], type=DeadLetter)
        for _, f in await entries(redis, keys.dead_letter(output))
    ]
    assert [(d.entry_id, d.reason) for d in dead] == [
        (bad_id, "malformed"),
        (no_text, "malformed"),
    ]
    assert dead[0].fields == {DATA_FIELD: "{not json"}
    assert dead[0].stream == output
    assert dead[0].error


async def test_snapshots_may_be_previewed_and_the_final_text_arrives_once(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_telegram.lift_flood_limits()
    fake_workers.script(USER, chunks=4, reply_delay=0.2)
    await start_relay()

    await write_message(redis, USER, "a reply written in four steps")

    await fake_telegram.wait_for_messages(CHAT, 1, timeout=10)
    await fake_workers.wait_for(lambda: len(fake_workers.outputs) == 4)
    final = "echo: a reply written in four steps"
    assert fake_telegram.chat(CHAT).texts == [final]
    drafts = [d.text for d in fake_telegram.chat(CHAT).draft_history]
    assert drafts, "no snapshot was previewed"
    assert all(final.startswith(d) for d in drafts)


async def test_a_reply_telegram_fails_on_for_a_while_is_delivered_once_it_is_back(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    # Five 502s exhaust one round of the sender's retries: the relay keeps the
    # entry and sends it again later, while the cursor stays.
    fake_telegram.fail_next("sendMessage", Failure.server_error(502, html=True), times=5)
    await start_relay()

    await write_message(redis, USER, "one")
    await write_message(redis, USER, "two")

    await fake_telegram.wait_for_messages(CHAT, 2, timeout=30)
    assert fake_telegram.chat(CHAT).texts == ["echo: one", "echo: two"]


async def test_a_reply_telegram_keeps_failing_on_is_dead_lettered_the_user_told_and_the_next_sent(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    # Two sends of the first reply, each through all of the sender's tries, fail with 500.
    failures = 2 * RetryPolicy().attempts
    fake_telegram.fail_next("sendMessage", Failure.server_error(500), times=failures, chat_id=CHAT)
    relay = await start_relay(REPLY_MAX_ATTEMPTS="2", REPLY_MAX_AGE_S="0.1")

    await write_message(redis, USER, "one")
    await write_message(redis, USER, "two")

    await fake_telegram.wait_for_messages(CHAT, 2, timeout=40)
    assert fake_telegram.chat(CHAT).texts == [RU.reply_failed, "echo: two"]
    output = keys.po_output(USER)
    dead = [
        msgspec.json.decode(f[b"data"], type=DeadLetter)
        for _, f in await entries(redis, keys.dead_letter(output))
    ]
    assert [(d.reason, d.deliveries, d.stream) for d in dead] == [("undeliverable", 2, output)]
    assert "error_code 500" in dead[0].error
    assert "echo: one" in dead[0].fields[DATA_FIELD]
    counted = 'telegram_bot_dead_letters_total{service="relay",stream_kind="po_output"} 1.0'
    assert counted in relay.relay.metrics.exposition().decode()


async def test_a_reply_is_not_sent_again_when_its_entry_is_read_again(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    relay = await start_relay()
    await answered(fake_telegram, redis, USER, "one")
    partition = keys.partition_of(USER)
    await relay.stopped()
    # As after a crash between sending and moving the cursor: the entry is read again.
    await redis.hset(f"bot:cursor:{partition}", str(USER), "0-0")

    await start_relay("relay-again")
    await write_message(redis, USER, "two")

    await fake_telegram.wait_for_messages(CHAT, 2, timeout=10)
    await wait_for_value(lambda: _cursor(redis, partition), _last_id(fake_workers))
    assert fake_telegram.chat(CHAT).texts == ["echo: one", "echo: two"]


async def _cursor(redis: aioredis.Redis, partition: int) -> str:
    value: Any = await redis.hget(f"bot:cursor:{partition}", str(USER))
    return value.decode() if value else ""


async def add(redis: aioredis.Redis, stream: str, data: bytes) -> str:
    """Write an output entry as a PO would (any bytes in ``data``); its id."""
    entry_id: Any = await redis.xadd(stream, {DATA_FIELD: data})
    return str(entry_id.decode())


def _last_id(fake_workers: FakeWorkerManager) -> str:
    return fake_workers.outputs[-1].entry_id if fake_workers.outputs else ""


async def test_idle_users_cost_no_polling(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_telegram.lift_flood_limits()
    users = range(1000, 1300)
    relay = await start_relay()
    for user in users:
        await write_message(redis, user, "hi")
    await fake_telegram.wait_for(
        lambda: all(fake_telegram.chat(chat_of(u)).texts for u in users), timeout=30
    )
    await wait_for_value(lambda: _watching(relay.relay.watch), False)
    await fake_workers.stop()  # the fake polls its workers' statuses: keep it out of the count

    reads_before = sum(relay.relay.replies.stats.reads.values())
    commands = await _commands_on_this_db(redis, seconds=3)
    reads = sum(relay.relay.replies.stats.reads.values()) - reads_before

    # 300 sessions, idle: blocked reads and a lease tick a second (one script,
    # some 40 commands inside it, as Redis counts them), nothing per user.
    assert len(relay.relay.replies.users()) == len(users)
    assert reads <= 2
    assert commands < len(users) / 2


async def _watching(watch: object) -> bool:
    return bool(getattr(watch, "_watched", None))


async def _commands_on_this_db(redis: aioredis.Redis, *, seconds: float) -> int:
    """Commands Redis ran on this test's database over ``seconds`` (MONITOR, scripts' inner
    commands included): the server's own total would count other clients of it too."""
    db = int(redis.connection_pool.connection_kwargs.get("db", 0))
    count = 0
    async with redis.monitor() as monitor:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                async for command in monitor.listen():
                    count += command["db"] == db
    return count


async def test_a_user_whose_session_expired_is_forgotten_but_for_their_reply_cursor(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_workers.script(USER, outcome="STARTING")  # no reply: the user still waits
    first = await start_relay("relay-a")
    await write_message(redis, USER, "hi")
    partition = keys.partition_of(USER)
    await wait_for_value(lambda: redis.sismember(f"bot:active:{partition}", str(USER)), 1)
    # Taken over, the user starts cold: the prune may take them.
    second = await take_over(first, start_relay, USER)
    await redis.delete(keys.session(USER))  # 24 h without a message

    await second.relay.replies.prune()

    assert USER not in second.relay.replies.users()
    assert not await redis.sismember(f"bot:active:{partition}", str(USER))
    assert not await redis.hexists(f"bot:typing:{partition}", str(USER))
    assert await redis.hexists(f"bot:cursor:{partition}", str(USER))  # for a late reply


async def test_a_reply_written_after_the_session_expired_is_sent_when_the_user_is_back(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    relay = await start_relay("relay-a")
    await answered(fake_telegram, redis, USER, "one")
    relay = await take_over(relay, start_relay, USER)  # cold there: the prune may take them
    await redis.delete(keys.session(USER))  # 24 h without a message
    await relay.relay.replies.prune()
    assert USER not in relay.relay.replies.users()
    late = {"request_id": "late", "user_id": USER, "text": "done at last", "is_final": True}
    await redis.xadd(keys.po_output(USER), {DATA_FIELD: msgspec.json.encode(late)})

    await write_message(redis, USER, "two")

    await fake_telegram.wait_for_messages(CHAT, 3, timeout=10)
    assert fake_telegram.chat(CHAT).texts == ["echo: one", "done at last", "echo: two"]


async def test_a_chat_telegram_holds_up_keeps_few_replies_in_memory_and_gets_all_in_order(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_telegram.lift_flood_limits()
    relay = await start_relay()
    neighbour = USER + 1
    # The user's first reply hangs in Telegram for a while; their PO writes 400 more.
    fake_telegram.fail_next("sendMessage", Failure.slow(3.0), chat_id=CHAT)
    await write_message(redis, USER, "go")
    # Polled: the fake tells no change when a call takes a scripted failure.
    await wait_until(lambda: fake_telegram.failures_left == 0)
    async with redis.pipeline(transaction=False) as pipe:
        for n in range(400):
            reply = {"request_id": f"r{n}", "user_id": USER, "text": f"part {n}", "is_final": True}
            pipe.xadd(keys.po_output(USER), {DATA_FIELD: msgspec.json.encode(reply)})
        await pipe.execute()

    # A neighbour's exchange re-issues the relay's read after those 400 were written.
    await answered(fake_telegram, redis, neighbour, "hi")

    assert relay.relay.replies.backlog <= 150  # QUEUE_LIMIT plus one read's batch
    await fake_telegram.wait_for_messages(CHAT, 401, timeout=60)
    assert fake_telegram.chat(CHAT).texts == ["echo: go", *(f"part {n}" for n in range(400))]


async def test_a_reply_in_flight_when_its_relay_stops_is_finished_and_shown_once(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    first = await start_relay("relay-a")
    # Telegram takes 6 s to answer: a drain that cut the send off would leave it
    # unrecorded, and the next owner would send it again.
    fake_telegram.fail_next("sendMessage", Failure.slow(6.0), chat_id=CHAT)
    await write_message(redis, USER, "one")
    # Polled: the fake tells no change when a call takes a scripted failure.
    await wait_until(lambda: fake_telegram.failures_left == 0)

    stopping_at = time.monotonic()  # the fake's clock
    await start_relay("relay-b")
    await first.stopped(timeout=20)  # SIGTERM's path: drain, release, leave
    await write_message(redis, USER, "two")

    await fake_telegram.wait_for_messages(CHAT, 2, timeout=20)
    # Telegram carries out a call even if its client went away: wait for the slow one.
    await fake_telegram.wait_for(
        lambda: any(c.started < stopping_at for c in fake_telegram.calls_to("sendMessage")),
        timeout=20,
    )
    assert fake_telegram.chat(CHAT).texts == ["echo: one", "echo: two"]
