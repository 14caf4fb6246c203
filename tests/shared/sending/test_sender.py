"""``shared.sending.sender.Sender`` against the fake Telegram and a real Redis: no mocks.

Several tests run the sender in processes of their own
(``tests/shared/sending/sender_burst.py``, forked from the test process) sharing one
Redis budget, as the ingress, relay and notifier do. Rates are raised (in
the settings and in the fake's flood limits alike) so that bursts take
seconds, not minutes: what is under test is that the shared budget keeps
every process under the fake's enforcement. The waits inside the sender are
the rate limits themselves.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
import structlog
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from services.fakes.redis_server import RedisServer
from services.fakes.telegram import Call, Failure, FakeTelegram, FloodLimits, Params
from shared.formatting.splitting import Part, render_parts
from shared.ratelimit import FloodBudget, FloodLimiter
from shared.sending.results import Outcome
from shared.sending.retry import RetryPolicy
from shared.sending.sender import Sender
from shared.sending.sent_log import SentLog
from shared.telegram import TelegramClient
from tests.shared.sending import sender_burst
from tests.shared.sending.sender_burst import READY_KEY, burst_text, results_key

FAST_RETRY = RetryPolicy(attempts=4, base_s=0.02, cap_s=0.2)
FAST_RECORD = RetryPolicy(attempts=3, base_s=0.01, cap_s=0.05)
# Raised limits for multi-process bursts; the sender's budget matches the fake's.
FAST_GLOBAL, FAST_CHAT = 100.0, 10.0
FAST_FAKE = FloodLimits(
    chat_rate=FAST_CHAT, chat_burst=3, group_limit=10, group_window=2.0, global_limit=100
)
FAST_BUDGET = FloodBudget(
    global_per_s=FAST_GLOBAL, chat_per_s=FAST_CHAT, group_limit=10, group_window_s=2.0
)
GROUP_ARGS = ["--group-limit", "10", "--group-window", "2.0"]
_FORK = multiprocessing.get_context("fork")


@pytest.fixture
async def sender(
    fake_telegram: FakeTelegram, telegram_client: TelegramClient, redis: aioredis.Redis
) -> Sender:
    fake_telegram.set_flood_limits(FAST_FAKE)
    return Sender(telegram_client, redis, FAST_BUDGET, retry=FAST_RETRY)


def sends_to(fake: FakeTelegram, chat_id: int) -> list[Call]:
    """Every sendMessage to ``chat_id``, scripted failures included (they carry no chat_id)."""
    return [c for c in fake.calls_to("sendMessage") if str(c.params.get("chat_id")) == str(chat_id)]


# ---------------------------------------------------------------------------
# Processes


class SenderProcess:
    """One ``sender_burst`` process; its results are read from Redis as they come."""

    def __init__(self, process: BaseProcess, name: str, redis_url: str, log_path: Path) -> None:
        self.process = process
        self.name = name
        self.log_path = log_path
        # A long BLPOP needs a socket timeout above redis-py's 5 s default.
        self._redis = aioredis.Redis.from_url(redis_url, socket_timeout=60)

    async def line(self, timeout: float = 30.0) -> dict[str, Any]:
        popped = await self._redis.blpop([results_key(self.name)], timeout=timeout)
        if popped is None:
            raise AssertionError(f"{self.name} sent no result in {timeout}s:\n{self.logs()}")
        result: dict[str, Any] = json.loads(popped[1])
        return result

    async def results(self) -> list[dict[str, Any]]:
        """Every result up to ``done``."""
        lines: list[dict[str, Any]] = []
        while not (line := await self.line()).get("done"):
            lines.append(line)
        return lines

    async def finish(self, timeout: float = 10.0) -> None:
        await asyncio.to_thread(self.process.join, timeout)
        assert self.process.exitcode == 0, self.logs()

    def kill(self) -> None:
        """SIGKILL: the process dies wherever it is, as in a crash."""
        if self.process.exitcode is None:
            self.process.kill()

    def stall(self) -> None:
        """SIGSTOP: the process stops wherever it is, as in an event loop stall."""
        assert self.process.pid is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process.pid is not None
        os.kill(self.process.pid, signal.SIGCONT)

    async def close(self) -> None:
        self.kill()
        await asyncio.to_thread(self.process.join, 10)
        await self._redis.aclose()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _run_sender(argv: list[str], env: dict[str, str], log_path: Path) -> None:
    """The child: this test's environment, output to a log file, then the script's main."""
    os.environ.update(env)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    # pytest's capture replaced sys.stdout/stderr in the parent; write to the file.
    sys.stdout = sys.stderr = open(fd, "w", buffering=1)  # noqa: SIM115 (lives as long as the process)
    sys.exit(sender_burst.main(argv))


StartSender = Callable[..., Awaitable[SenderProcess]]


@pytest.fixture
async def start_sender(
    fake_telegram: FakeTelegram, redis_url: str, tmp_path: Path
) -> AsyncIterator[StartSender]:
    """Start ``sender_burst`` processes wired to this test's fake Telegram and Redis.

    They are forked from the test process rather than started afresh, which
    saves a new interpreter's imports. Each is still a process of its own
    (own event loop, Redis connections and HTTP session) and SIGKILL ends it
    like any other.
    """
    started: list[SenderProcess] = []
    env = {
        "TELEGRAM_BOT_TOKEN": fake_telegram.token,
        "TELEGRAM_API_URL": fake_telegram.url,
        "REDIS_URL": redis_url,
        "TELEGRAM_RATE_GLOBAL_PER_S": str(FAST_GLOBAL),
        "TELEGRAM_RATE_CHAT_PER_S": str(FAST_CHAT),
    }

    async def start(*argv: str) -> SenderProcess:
        name = argv[1]
        log_path = tmp_path / f"sender-{name}.log"
        process = _FORK.Process(target=_run_sender, args=(list(argv), env, log_path))
        process.start()
        started.append(SenderProcess(process, name, redis_url, log_path))
        return started[-1]

    yield start
    for process in started:
        await process.close()
    for process in started:
        assert fake_telegram.token not in process.logs(), "a sender logged the bot token"


async def start_together(
    redis_url: str, start: StartSender, commands: list[list[str]]
) -> list[SenderProcess]:
    """Start one process per command and let them all begin sending at once."""
    processes = [await start(*command, "--go-key", "test:go") for command in commands]
    client = aioredis.Redis.from_url(redis_url, socket_timeout=60)
    try:
        for _ in processes:
            assert await client.blpop([READY_KEY], timeout=30), "a sender never got ready"
        await client.rpush("test:go", *["go"] * len(processes))
    finally:
        await client.aclose()
    return processes


def burst_command(name: str, chats: list[int], messages: int) -> list[str]:
    chat_list = ",".join(str(chat) for chat in chats)
    return ["burst", name, "--chats", chat_list, "--messages", str(messages), *GROUP_ARGS]


def assert_each_sender_in_order(
    fake: FakeTelegram, names: list[str], chats: list[int], n: int
) -> None:
    for chat_id in chats:
        texts = fake.chat(chat_id).texts
        for name in names:
            mine = [t for t in texts if t.startswith(f"{name} ")]
            assert mine == [burst_text(name, chat_id, i) for i in range(n)], (chat_id, texts)
        assert len(texts) == len(names) * n, (chat_id, texts)


# ---------------------------------------------------------------------------
# Many processes, one budget


async def test_three_processes_sharing_one_budget_are_never_throttled_and_lose_nothing(
    fake_telegram: FakeTelegram, redis_url: str, start_sender: StartSender
) -> None:
    fake_telegram.set_flood_limits(FAST_FAKE)
    shared_chats = [777, -500]  # one private chat, one group
    names = ["p0", "p1", "p2"]
    own = {name: [1000 + 100 * n + c for c in range(10)] for n, name in enumerate(names)}
    commands = [burst_command(name, shared_chats + own[name], 4) for name in names]

    processes = await start_together(redis_url, start_sender, commands)
    results = [await p.results() for p in processes]

    assert fake_telegram.throttled == []
    assert [len(lines) for lines in results] == [48, 48, 48]
    assert all(r["outcome"] == "delivered" for lines in results for r in lines)
    assert_each_sender_in_order(fake_telegram, names, shared_chats, 4)
    for name in names:
        assert_each_sender_in_order(fake_telegram, [name], own[name], 4)


async def test_a_429_pauses_that_chat_in_every_process_for_the_full_retry_after(
    fake_telegram: FakeTelegram, redis_url: str, start_sender: StartSender
) -> None:
    fake_telegram.set_flood_limits(FAST_FAKE)
    hit, others = 4242, [10, 11, 12]
    fake_telegram.fail_next("sendMessage", Failure.too_many_requests(3), chat_id=hit)
    names = ["p0", "p1", "p2"]
    commands = [burst_command(name, [hit, *others], 4) for name in names]

    processes = await start_together(redis_url, start_sender, commands)
    for process in processes:
        await process.results()

    [throttled] = fake_telegram.throttled
    to_hit = sends_to(fake_telegram, hit)
    during = [c for c in to_hit if throttled.finished < c.started < throttled.finished + 3.0]
    assert during == [], [(c.started - throttled.finished) for c in to_hit]
    others_during = [
        c
        for chat in others
        for c in sends_to(fake_telegram, chat)
        if throttled.finished < c.started < throttled.finished + 3.0
    ]
    assert others_during, "a chat's 429 must not pause the other chats"
    assert_each_sender_in_order(fake_telegram, names, [hit, *others], 4)


async def test_a_process_killed_after_sending_does_not_send_again_when_another_retries(
    fake_telegram: FakeTelegram, start_sender: StartSender
) -> None:
    args = ["--chat", "31", "--text", "hello", "--key", "e-1"]
    first = await start_sender("once", "a", *args, "--hold")
    [sent] = await first.results()
    first.kill()  # as if it died before acknowledging the stream entry

    second = await start_sender("once", "b", *args)
    [again] = await second.results()
    await second.finish()

    assert again["outcome"] == "delivered"
    assert again["message_ids"] == sent["message_ids"]
    assert again["resumed_at"] == 1
    assert fake_telegram.chat(31).texts == ["hello"]
    assert len(sends_to(fake_telegram, 31)) == 1


async def test_a_process_stalled_before_its_slot_does_not_send_what_another_sent_meanwhile(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, sender: Sender, start_sender: StartSender
) -> None:
    # Every chat paused: the first process reserves the slot after the pause, and
    # stalls (an event loop stall, a handling that outlived its claim) before it.
    limiter = sender.limiter
    seconds, micros = await redis.time()
    ends = seconds * 1000 + micros // 1000 + 2_000
    await redis.set(limiter.global_pause_key(), ends, px=2_000)
    first = await start_sender("once", "a", "--chat", "33", "--text", "hello", "--key", "e-3")
    await _redis_until(lambda: redis.exists(limiter.chat_key(33)), True)
    first.stall()

    # Another process, handed the same work, sends it once the pause is over.
    second = await sender.send(33, "hello", key="e-3")
    first.resume()
    [late] = await first.results()
    await first.finish()

    assert second.delivered
    assert (late["outcome"], late["message_ids"]) == ("delivered", list(second.message_ids))
    assert late["resumed_at"] == 1
    assert fake_telegram.chat(33).texts == ["hello"]
    assert len(sends_to(fake_telegram, 33)) == 1


async def test_a_retry_after_a_429_does_not_send_what_another_process_sent_meanwhile(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, sender: Sender, start_sender: StartSender
) -> None:
    fake_telegram.fail_next("sendMessage", Failure.too_many_requests(1), chat_id=34)
    first = await start_sender("once", "a", "--chat", "34", "--text", "hello", "--key", "e-4")
    await fake_telegram.wait_for_call("sendMessage", where=lambda c: c.status == 429, timeout=20)
    # Stalled while it waits out the pause, its flood slot released.
    await _redis_until(lambda: redis.exists(sender.limiter.flight_key(34)), False)
    first.stall()

    second = await sender.send(34, "hello", key="e-4")
    first.resume()
    [late] = await first.results()
    await first.finish()

    assert second.delivered
    assert (late["outcome"], late["message_ids"]) == ("delivered", list(second.message_ids))
    assert fake_telegram.chat(34).texts == ["hello"]
    assert [c.status for c in sends_to(fake_telegram, 34)] == [429, 200]


async def test_a_multi_part_message_interrupted_after_part_one_resumes_at_part_two(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_sender: StartSender
) -> None:
    line = "Every line of this long reply is the same, and there are many of them."
    args = ["--chat", "32", "--text", line, "--repeat", "150", "--key", "e-2"]
    parts = render_parts("\n".join([line] * 150))
    assert len(parts) >= 3
    # Part 1 goes through; part 2's connection drops before Telegram handles it,
    # and the process is killed while it backs off before trying again.
    fake_telegram.fail_next("sendMessage", Failure.slow(0), chat_id=32)
    fake_telegram.fail_next("sendMessage", Failure.drop(), chat_id=32)
    first = await start_sender("once", "a", *args, "--retry-base", "60")
    await fake_telegram.wait_for_call("sendMessage", where=lambda c: c.status is None, timeout=20)
    # Killed while backing off, after it took note of the drop: killed mid-request,
    # its request would hold the chat for in_flight_s (10 s) as possibly still arriving.
    in_flight = FloodLimiter(redis).flight_key(32)
    await _redis_until(lambda: redis.exists(in_flight), False)
    first.kill()
    assert await SentLog(redis).load("e-2") == {0: 1}

    second = await start_sender("once", "b", *args)
    [result] = await second.results()
    await second.finish()

    assert result["outcome"] == "delivered"
    assert result["resumed_at"] == 1
    assert fake_telegram.chat(32).texts == [part.plain.strip() for part in parts]


# ---------------------------------------------------------------------------
# Telegram's answers


async def test_a_message_goes_out_as_html_and_reports_its_message_ids(
    fake_telegram: FakeTelegram, sender: Sender
) -> None:
    result = await sender.send(5, "a < b & **bold**")

    assert result.outcome is Outcome.DELIVERED
    [message] = fake_telegram.chat(5).sent
    assert result.message_ids == (message["message_id"],)
    [call] = sends_to(fake_telegram, 5)
    assert call.params["parse_mode"] == "HTML"
    assert message["text"] == render_parts("a < b & **bold**")[0].plain


async def test_cant_parse_entities_resends_the_part_as_plain_text(
    fake_telegram: FakeTelegram, sender: Sender
) -> None:
    error = 'Bad Request: can\'t parse entities: Unsupported start tag "x" at byte offset 3'
    fake_telegram.fail_next("sendMessage", Failure.error(400, error))

    result = await sender.send(6, "some *text* here")

    assert result.delivered
    first, second = sends_to(fake_telegram, 6)
    assert first.status == 400
    assert "parse_mode" not in second.params
    assert fake_telegram.chat(6).texts == [render_parts("some *text* here")[0].plain]


async def test_a_blocked_user_stops_retries_for_that_chat_and_other_chats_go_on(
    fake_telegram: FakeTelegram, sender: Sender
) -> None:
    fake_telegram.block(41)
    parts = [Part(html=f"part {i}", plain=f"part {i}") for i in range(3)]

    with structlog.testing.capture_logs() as logs:
        blocked, other = await asyncio.gather(
            sender.send_parts(41, parts, key="k-41"), sender.send(42, "still here")
        )

    assert (blocked.outcome, blocked.error_code) == (Outcome.BLOCKED, 403)
    assert len(sends_to(fake_telegram, 41)) == 1
    assert [e["event"] for e in logs].count("send_blocked") == 1
    assert other.delivered
    assert fake_telegram.chat(42).texts == ["still here"]


async def test_server_errors_and_dropped_connections_are_retried_with_backoff(
    fake_telegram: FakeTelegram, sender: Sender
) -> None:
    fake_telegram.fail_next("sendMessage", Failure.server_error(502, html=True))
    fake_telegram.fail_next("sendMessage", Failure.drop())
    fake_telegram.fail_next("sendMessage", Failure.server_error(500))

    result = await sender.send(7, "eventually")

    assert result.delivered
    calls = sends_to(fake_telegram, 7)
    assert [c.status for c in calls] == [502, None, 500, 200]
    gaps = [b.started - a.finished for a, b in itertools.pairwise(calls)]
    # Each wait is at least half of its doubling ceiling: 10 ms, 20 ms, 40 ms.
    assert all(gap >= 0.01 * 2**i * 0.95 for i, gap in enumerate(gaps)), gaps
    assert fake_telegram.chat(7).texts == ["eventually"]


async def test_a_persistent_server_error_gives_up_after_the_bound_and_says_so(
    fake_telegram: FakeTelegram, sender: Sender
) -> None:
    fake_telegram.fail_next("sendMessage", Failure.server_error(500), times=100)

    with structlog.testing.capture_logs() as logs:
        result = await sender.send(8, "secret words", key="entry-8")

    assert (result.outcome, result.transient, result.error_code) == (Outcome.FAILED, True, 500)
    assert len(sends_to(fake_telegram, 8)) == FAST_RETRY.attempts
    [failed] = [e for e in logs if e["event"] == "send_failed"]
    assert failed["chat_id"] == 8
    assert failed["key"] == "entry-8"
    assert failed["attempts"] == FAST_RETRY.attempts
    assert "500" in failed["error"] or "Internal Server Error" in failed["error"]
    above_debug = [e for e in logs if e["log_level"] != "debug"]
    assert "secret words" not in repr(above_debug)
    assert fake_telegram.token not in repr(logs)


async def test_a_connection_dropped_after_telegram_handled_it_is_sent_again(
    fake_telegram: FakeTelegram, sender: Sender
) -> None:
    # The documented choice for the ambiguous case: send again rather than risk a loss.
    fake_telegram.fail_next("sendMessage", Failure.drop(after_processing=True))

    result = await sender.send(9, "maybe twice")

    assert result.delivered
    assert fake_telegram.chat(9).texts == ["maybe twice", "maybe twice"]


async def test_a_429_is_honoured_before_the_same_message_goes_again(
    fake_telegram: FakeTelegram, sender: Sender
) -> None:
    fake_telegram.fail_next("sendMessage", Failure.too_many_requests(1))

    result = await sender.send(10, "after the pause")

    assert result.delivered
    throttled, sent = sends_to(fake_telegram, 10)
    assert throttled.status == 429
    assert sent.started - throttled.finished >= 1.0


async def test_a_keyed_message_is_sent_once_however_often_it_is_handed_over(
    fake_telegram: FakeTelegram, sender: Sender
) -> None:
    first = await sender.send(11, "only once", key="1700000000000-0")
    second = await sender.send(11, "only once", key="1700000000000-0")

    assert second.delivered
    assert second.message_ids == first.message_ids
    assert second.resumed_at == 1
    assert fake_telegram.chat(11).texts == ["only once"]


async def test_two_senders_handed_the_same_long_message_at_once_send_each_part_once(
    fake_telegram: FakeTelegram, telegram_client: TelegramClient, redis: aioredis.Redis
) -> None:
    # Two senders: two processes, each with its own chat lock, sharing Redis.
    one, two = (Sender(telegram_client, redis, FAST_BUDGET, retry=FAST_RETRY) for _ in range(2))
    parts = [Part(html=f"part {i}", plain=f"part {i}") for i in range(3)]

    first, second = await asyncio.gather(
        one.send_parts(14, parts, key="k-14"), two.send_parts(14, parts, key="k-14")
    )

    assert first.delivered
    assert second.delivered
    assert first.message_ids == second.message_ids
    assert fake_telegram.chat(14).texts == ["part 0", "part 1", "part 2"]
    assert len(sends_to(fake_telegram, 14)) == 3


async def test_reply_markup_goes_on_the_last_part_only(
    fake_telegram: FakeTelegram, sender: Sender
) -> None:
    markup = {"inline_keyboard": [[{"text": "ok", "callback_data": "ok"}]]}
    parts = [Part(html="one", plain="one"), Part(html="two", plain="two")]

    await sender.send_parts(12, parts, reply_markup=markup)

    first, second = fake_telegram.chat(12).sent
    assert "reply_markup" not in first
    assert second["reply_markup"]["inline_keyboard"][0][0]["text"] == "ok"


async def test_an_edit_replaces_the_text_within_the_budget(
    fake_telegram: FakeTelegram, sender: Sender
) -> None:
    sent = await sender.send(13, "before")

    edited = await sender.edit(13, sent.message_ids[0], "after")
    unchanged = await sender.edit(13, sent.message_ids[0], "after")

    assert edited.delivered
    assert unchanged.delivered  # "message is not modified" is success
    assert fake_telegram.chat(13).texts == ["after"]
    assert len(fake_telegram.calls_to("editMessageText")) == 2


# ---------------------------------------------------------------------------
# Redis going away after Telegram accepted a part


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server of this test's own, to kill (the shared one serves every test)."""
    with RedisServer() as server:
        yield server


@pytest.fixture
async def fragile_sender(
    fake_telegram: FakeTelegram, telegram_client: TelegramClient, own_redis: RedisServer
) -> AsyncIterator[Sender]:
    """A sender on ``own_redis``, whose client gives up on a dead Redis at once.

    redis-py's default (ten retries with backoff) would only make the test
    seconds slower; what is under test is the sender's own handling.
    """
    fake_telegram.set_flood_limits(FAST_FAKE)
    client = aioredis.Redis.from_url(own_redis.url, retry=Retry(NoBackoff(), 1))
    try:
        yield Sender(
            telegram_client, client, FAST_BUDGET, retry=FAST_RETRY, record_retry=FAST_RECORD
        )
    finally:
        await client.aclose()


def kill_redis_when_telegram_accepts(fake: FakeTelegram, server: RedisServer) -> None:
    """Telegram takes the first sendMessage, then Redis dies before the answer leaves.

    That is the window between Telegram accepting a part and the sender's
    Redis writes (the flood slot's release, the record under the key).
    """
    original = fake.methods["sendmessage"].handler

    async def send_then_kill(fake: FakeTelegram, params: Params) -> Any:
        result = await original(fake, params)
        server.kill()
        fake.add_method("sendMessage", original)  # once
        return result

    fake.add_method("sendMessage", send_then_kill)


async def test_a_part_telegram_accepted_as_redis_died_is_delivered_once_and_logged_once(
    fake_telegram: FakeTelegram, own_redis: RedisServer, fragile_sender: Sender
) -> None:
    kill_redis_when_telegram_accepts(fake_telegram, own_redis)

    with structlog.testing.capture_logs() as logs:
        result = await fragile_sender.send(51, "only once", key="k-51")

    assert result.delivered
    assert fake_telegram.chat(51).texts == ["only once"]
    assert len(sends_to(fake_telegram, 51)) == 1
    [failed] = [e for e in logs if e["event"] == "sent_record_failed"]
    assert (failed["chat_id"], failed["key"], failed["part"]) == (51, "k-51", 0)
    assert failed["message_id"] == result.message_ids[0]


async def test_a_part_redis_could_not_record_is_not_sent_again_by_the_same_process(
    fake_telegram: FakeTelegram, own_redis: RedisServer, fragile_sender: Sender
) -> None:
    kill_redis_when_telegram_accepts(fake_telegram, own_redis)
    first = await fragile_sender.send(52, "only once", key="k-52")
    own_redis.start()  # back, and empty: nothing was persisted

    again = await fragile_sender.send(52, "only once", key="k-52")

    assert again.delivered
    assert again.message_ids == first.message_ids
    assert again.resumed_at == 1
    assert fake_telegram.chat(52).texts == ["only once"]
    assert len(sends_to(fake_telegram, 52)) == 1
    assert await SentLog(fragile_sender.redis).load("k-52") == {0: first.message_ids[0]}


async def test_a_long_message_cut_off_by_redis_resumes_after_the_part_telegram_accepted(
    fake_telegram: FakeTelegram, own_redis: RedisServer, fragile_sender: Sender
) -> None:
    parts = [Part(html=f"part {i}", plain=f"part {i}") for i in range(3)]
    kill_redis_when_telegram_accepts(fake_telegram, own_redis)
    with pytest.raises(RedisError):
        # Part 0 is in; part 1 cannot take a flood slot with Redis gone.
        await fragile_sender.send_parts(53, parts, key="k-53")
    own_redis.start()

    result = await fragile_sender.send_parts(53, parts, key="k-53")

    assert result.delivered
    assert result.resumed_at == 1
    assert fake_telegram.chat(53).texts == ["part 0", "part 1", "part 2"]
    assert len(sends_to(fake_telegram, 53)) == 3


# ---------------------------------------------------------------------------
# Previews


async def test_drafts_are_throttled_by_the_budget_and_the_final_text_is_sent(
    fake_telegram: FakeTelegram, telegram_client: TelegramClient, redis: aioredis.Redis
) -> None:
    fake_telegram.set_flood_limits(FloodLimits(chat_rate=2.0))
    sender = Sender(telegram_client, redis, FloodBudget(global_per_s=30, chat_per_s=2))
    reply = sender.live(20, draft_id=77)
    words = [f"word{i}" for i in range(30)]

    started = time.monotonic()
    shown = []
    for i in range(len(words)):
        shown.append(await reply.update(" ".join(words[: i + 1])))
        await asyncio.sleep(0.05)  # the PO writing: a snapshot every 50 ms
    elapsed = time.monotonic() - started
    result = await reply.finish(" ".join(words))

    drafts = fake_telegram.chat(20).draft_history
    assert 1 <= len(drafts) == sum(shown) <= 1 + 2 * elapsed
    assert fake_telegram.throttled == []
    assert result.delivered
    assert fake_telegram.chat(20).texts == [" ".join(words)]
    [final] = sends_to(fake_telegram, 20)
    assert final.started > drafts[-1].time


async def test_previews_are_skipped_while_final_messages_wait_for_the_budget(
    fake_telegram: FakeTelegram, telegram_client: TelegramClient, redis: aioredis.Redis
) -> None:
    # Six finals queue for 1.5 s.
    sender = Sender(telegram_client, redis, FloodBudget(global_per_s=4))
    finals = asyncio.gather(*(sender.send(30 + i, f"final {i}") for i in range(6)))
    await fake_telegram.wait_for_messages(30, 1)

    shown = await sender.preview(21, 5, "a draft")

    assert shown is False
    assert all(r.delivered for r in await finals)
    assert fake_telegram.chat(21).draft_history == []
    assert await _eventually(lambda: sender.preview(21, 5, "a draft"))


async def test_a_group_reply_is_previewed_by_editing_one_message_then_sent_anew(
    fake_telegram: FakeTelegram, sender: Sender
) -> None:
    reply = sender.live(-300, draft_id=9, key="group-reply")

    assert await reply.update("thinking")
    await fake_telegram.wait_for_messages(-300, 1)
    assert await _eventually(lambda: reply.update("thinking harder"))
    result = await reply.finish("the answer")

    assert result.delivered
    chat = fake_telegram.chat(-300)
    assert chat.texts == ["the answer"]
    assert [m["text"] for m in chat.deleted] == ["thinking harder"]
    assert [e["text"] for e in chat.edits] == ["thinking"]


async def _redis_until(
    read: Callable[[], Awaitable[object]], expected: object, within: float = 10.0
) -> None:
    """Redis state has no change event: read it on a short interval, bounded."""
    deadline = time.monotonic() + within
    while bool(await read()) != expected:
        assert time.monotonic() < deadline, f"Redis never got to {expected!r}"
        await asyncio.sleep(0.01)


async def _eventually(attempt: Callable[[], Awaitable[bool]], within: float = 5.0) -> bool:
    """Retry a best-effort preview until the budget lets it through (the budget's own pace)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await attempt():
            return True
        await asyncio.sleep(0.05)
    return False


# ---------------------------------------------------------------------------
# Chat actions ("typing…")


async def test_a_chat_action_is_shown_without_taking_a_message_slot(
    sender: Sender, fake_telegram: FakeTelegram
) -> None:
    assert await sender.chat_action(77)

    assert [a.action for a in fake_telegram.chat(77).actions] == ["typing"]
    # The reply that follows is not held back by a chat interval: its slot is free now.
    ticket = await sender.limiter.try_acquire(77)
    assert ticket is not None
    await sender.limiter.release(ticket)


async def test_a_chat_action_is_skipped_while_a_429_pauses_the_chat(
    sender: Sender, fake_telegram: FakeTelegram
) -> None:
    await sender.limiter.report_retry_after(78, 30)

    assert not await sender.chat_action(78)
    assert fake_telegram.calls_to("sendChatAction") == []


async def test_a_chat_action_is_skipped_while_every_chat_is_paused(
    sender: Sender, fake_telegram: FakeTelegram
) -> None:
    seconds, micros = await sender.limiter.redis.time()  # a pause key holds its end, Redis ms
    ends = seconds * 1000 + micros // 1000 + 30_000
    await sender.limiter.redis.set(sender.limiter.global_pause_key(), ends, px=30_000)

    assert not await sender.chat_action(80)
    assert fake_telegram.calls_to("sendChatAction") == []


async def test_a_429_on_a_chat_action_pauses_the_chat_for_messages_in_every_process(
    sender: Sender, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.fail_next("sendChatAction", Failure.too_many_requests(5), chat_id=79)

    assert not await sender.chat_action(79)

    assert await sender.limiter.pause_left(79) > 4  # read from Redis: every process sees it
    assert fake_telegram.chat(79).actions == []
