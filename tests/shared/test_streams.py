"""``shared.streams.StreamConsumer`` against a real Redis: no mocks.

Idle and claim times are shrunk so that retries and takeovers happen in
fractions of a second. The tests wait on the handler's own notifications;
where Redis state has no event (a group appearing, an error counter), they
poll it in a bounded loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

import msgspec
import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from services.fakes.redis_server import RedisServer
from shared import keys
from shared.schemas import decode_entry, encode_entry
from shared.streams import DeadLetter, StreamConsumer, entry_decoder
from tests.shared.stream_worker import Job, completed_key, completions_key, started_key

STREAM = "test:jobs"
GROUP = "testers"
DEAD = keys.dead_letter(STREAM)
FAST_IDLE_MS = 200
STOP_WITHIN_S = 2.0
ROOT = Path(__file__).resolve().parents[2]

Hook = Callable[[str, Job], Awaitable[None]]


class Recorder:
    """A handler that records every attempt and wakes up tests waiting on it.

    ``failures`` maps a job number to how many attempts must raise (-1: all).
    ``hook`` runs first on every attempt, for tests that look inside.
    """

    def __init__(self, failures: dict[int, int] | None = None, hook: Hook | None = None) -> None:
        self.attempts: list[tuple[int, float]] = []
        self.handled: list[int] = []
        self._failures = dict(failures or {})
        self._hook = hook
        self._changed = asyncio.Condition()

    async def __call__(self, entry_id: str, job: Job) -> None:
        self.attempts.append((job.n, time.monotonic()))
        try:
            if self._hook is not None:
                await self._hook(entry_id, job)
            if self._failures.get(job.n, 0) != 0:
                self._failures[job.n] -= 1
                raise RuntimeError(f"handler failed on {job.n}")
            self.handled.append(job.n)
        finally:
            async with self._changed:
                self._changed.notify_all()

    def attempts_of(self, n: int) -> list[float]:
        return [at for seen, at in self.attempts if seen == n]

    async def wait_until(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(predicate)


def make_consumer(
    redis: aioredis.Redis,
    handler: Callable[[str, Job], Awaitable[None]],
    *,
    consumer: str = "c1",
    **options: Any,
) -> StreamConsumer[Job]:
    settings: dict[str, Any] = {
        "block_ms": 500,
        "claim_idle_ms": FAST_IDLE_MS,
        "max_backoff_ms": 200,
        **options,
    }
    return StreamConsumer(
        redis,
        stream=STREAM,
        group=GROUP,
        consumer=consumer,
        decode=entry_decoder(Job),
        handler=handler,
        **settings,
    )


@contextlib.asynccontextmanager
async def running(consumer: StreamConsumer[Job]) -> AsyncIterator[asyncio.Event]:
    """Run ``consumer`` for the block; on leaving, stop it and require a prompt return."""
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        yield stop
    finally:
        stop.set()
        async with asyncio.timeout(STOP_WITHIN_S):
            await task


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def add(redis: aioredis.Redis, n: int) -> str:
    return text(await redis.xadd(STREAM, encode_entry(Job(n=n))))  # type: ignore[arg-type]


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 5.0) -> None:
    """Poll state that has no event of its own (Redis, counters), within a deadline."""
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110 - nothing to wait on but the state itself
            await asyncio.sleep(0.01)


async def blocked_in_read(redis: aioredis.Redis) -> bool:
    clients: list[dict[str, Any]] = await redis.client_list()
    return any(
        client.get("cmd") == "xreadgroup" and "b" in client.get("flags", "") for client in clients
    )


async def group_exists(redis: aioredis.Redis) -> bool:
    if not await redis.exists(STREAM):
        return False
    groups = await redis.xinfo_groups(STREAM)
    return any(group["name"] == GROUP.encode() for group in groups)


async def pending_count(redis: aioredis.Redis) -> int:
    summary = await redis.xpending(STREAM, GROUP)
    return int(summary["pending"])


async def no_pending(redis: aioredis.Redis) -> bool:
    return await pending_count(redis) == 0


async def dead_letters(redis: aioredis.Redis) -> list[DeadLetter]:
    entries: Any = await redis.xrange(DEAD)
    return [decode_entry(fields, DeadLetter) for _, fields in entries]


# --- the group --------------------------------------------------------------


async def test_a_missing_group_is_created_with_its_stream(redis: aioredis.Redis) -> None:
    async with running(make_consumer(redis, Recorder())):
        await eventually(lambda: group_exists(redis))
    assert await redis.xlen(STREAM) == 0


async def test_a_new_group_starts_at_start_id(redis: aioredis.Redis) -> None:
    await add(redis, 1)
    recorder = Recorder()
    async with running(make_consumer(redis, recorder, start_id="$")):
        await eventually(lambda: group_exists(redis))
        await add(redis, 2)
        await recorder.wait_until(lambda: 2 in recorder.handled)
    assert recorder.handled == [2]


async def test_a_start_id_given_as_a_function_is_asked_when_the_group_is_made(
    redis: aioredis.Redis,
) -> None:
    first = await add(redis, 1)
    await add(redis, 2)
    recorder = Recorder()

    async def after_the_first() -> str:
        return first

    async with running(make_consumer(redis, recorder, start_id=after_the_first)):
        await recorder.wait_until(lambda: 2 in recorder.handled)
    assert recorder.handled == [2]


async def test_fresh_entries_named_expired_are_acknowledged_unhandled_and_pending_ones_handled(
    redis: aioredis.Redis,
) -> None:
    await redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    ids = [await add(redis, n) for n in (1, 2, 3)]
    # Entry 1 is pending for a consumer that died holding it.
    await redis.xreadgroup(GROUP, "dead", {STREAM: ">"}, count=1)
    asked: list[list[str]] = []

    async def expired(entry_ids: list[str]) -> list[str]:
        asked.append(entry_ids)
        return [entry_id for entry_id in entry_ids if entry_id in ids[:2]]

    recorder = Recorder()
    async with running(make_consumer(redis, recorder, expired=expired)):
        await recorder.wait_until(lambda: sorted(recorder.handled) == [1, 3])
        await eventually(lambda: no_pending(redis))
    assert recorder.handled == [3, 1], "2 acknowledged unhandled; 1 claimed once idle"
    assert asked == [ids[1:]], "asked of fresh reads only"


async def test_two_consumers_starting_together_share_one_group_and_each_entry_once(
    redis: aioredis.Redis,
) -> None:
    for n in range(1, 11):
        await add(redis, n)
    recorder = Recorder()
    async with (
        running(make_consumer(redis, recorder, consumer="c1", batch=2)),
        running(make_consumer(redis, recorder, consumer="c2", batch=2)),
    ):
        await recorder.wait_until(lambda: len(recorder.handled) == 10)
    assert sorted(recorder.handled) == list(range(1, 11))
    assert await pending_count(redis) == 0


# --- handling, acknowledging, retrying ---------------------------------------


async def test_entries_are_handled_in_order_and_acknowledged_only_after_success(
    redis: aioredis.Redis,
) -> None:
    still_pending_in_handler: list[bool] = []

    async def check_pending(entry_id: str, _job: Job) -> None:
        rows = await redis.xpending_range(STREAM, GROUP, entry_id, entry_id, 1)
        still_pending_in_handler.append(len(rows) == 1)

    for n in range(1, 6):
        await add(redis, n)
    recorder = Recorder(hook=check_pending)
    consumer = make_consumer(redis, recorder)
    async with running(consumer):
        await recorder.wait_until(lambda: len(recorder.handled) == 5)
    assert recorder.handled == [1, 2, 3, 4, 5]
    assert still_pending_in_handler == [True] * 5
    assert await pending_count(redis) == 0
    assert await redis.xlen(STREAM) == 5, "the stream itself is never trimmed"
    assert (consumer.stats.handled, consumer.stats.failed) == (5, 0)


async def test_a_failing_entry_is_retried_after_the_idle_time_and_then_succeeds(
    redis: aioredis.Redis,
) -> None:
    for n in (1, 2, 3):
        await add(redis, n)
    recorder = Recorder(failures={2: 1})
    consumer = make_consumer(redis, recorder)
    async with running(consumer):
        await recorder.wait_until(lambda: 2 in recorder.handled)
    assert recorder.handled == [1, 3, 2]
    first, second = recorder.attempts_of(2)
    # Retried by XAUTOCLAIM once idle, not at once in a loop.
    assert second - first >= FAST_IDLE_MS / 1000 * 0.75
    assert await pending_count(redis) == 0
    assert (consumer.stats.handled, consumer.stats.failed, consumer.stats.claimed) == (3, 1, 1)


async def test_an_entry_failing_max_deliveries_times_is_dead_lettered_and_the_next_is_handled(
    redis: aioredis.Redis,
) -> None:
    poison_id = await add(redis, 1)
    recorder = Recorder(failures={1: -1})
    consumer = make_consumer(redis, recorder, max_deliveries=3)
    async with running(consumer):
        await recorder.wait_until(lambda: len(recorder.attempts_of(1)) == 3)
        await add(redis, 2)
        await recorder.wait_until(lambda: 2 in recorder.handled)
    assert len(recorder.attempts_of(1)) == 3
    [letter] = await dead_letters(redis)
    assert letter.reason == "max_deliveries"
    assert letter.error == "RuntimeError: handler failed on 1"
    assert (letter.stream, letter.entry_id, letter.group) == (STREAM, poison_id, GROUP)
    assert letter.deliveries == 3
    assert letter.fields == {"data": msgspec.json.encode(Job(n=1)).decode()}
    assert await pending_count(redis) == 0
    assert await redis.xlen(STREAM) == 2, "the stream itself is never trimmed"
    assert (consumer.stats.failed, consumer.stats.dead_lettered) == (3, 1)


async def test_each_dead_letter_and_each_idle_turn_is_reported_to_the_hooks(
    redis: aioredis.Redis,
) -> None:
    await redis.xadd(STREAM, {b"data": b"{not json"})
    await add(redis, 1)
    reasons: list[str] = []
    turned = asyncio.Event()
    recorder = Recorder()
    consumer = make_consumer(
        redis, recorder, block_ms=100, on_turn=turned.set, on_dead_letter=reasons.append
    )
    async with running(consumer):
        await recorder.wait_until(lambda: 1 in recorder.handled)
        turned.clear()
        async with asyncio.timeout(5):
            await turned.wait()  # idle now: the loop still turns
    assert reasons == ["malformed"]


async def test_undecodable_entries_are_dead_lettered_at_once_and_their_neighbours_handled(
    redis: aioredis.Redis,
) -> None:
    await add(redis, 1)
    bad_entries = [
        {b"data": b"{not json"},
        {b"other": b"no data field"},
        {b"data": b'{"n": "one"}'},
    ]
    bad_ids = [text(await redis.xadd(STREAM, fields)) for fields in bad_entries]  # type: ignore[arg-type]
    await add(redis, 2)
    recorder = Recorder()
    consumer = make_consumer(redis, recorder)
    async with running(consumer):
        await recorder.wait_until(lambda: 2 in recorder.handled)
    assert recorder.handled == [1, 2]
    assert [n for n, _ in recorder.attempts] == [1, 2]
    letters = await dead_letters(redis)
    assert [letter.entry_id for letter in letters] == bad_ids
    assert {letter.reason for letter in letters} == {"malformed"}
    assert all(letter.error.startswith("MalformedEntry: ") for letter in letters)
    assert [letter.fields for letter in letters] == [
        {name.decode(): value.decode() for name, value in fields.items()} for fields in bad_entries
    ]
    assert await pending_count(redis) == 0
    assert (consumer.stats.dead_lettered, consumer.stats.failed) == (3, 0)


# --- restarts, dead consumers, crashes ---------------------------------------


async def test_after_a_restart_own_pending_entries_are_handled_before_new_ones(
    redis: aioredis.Redis,
) -> None:
    for n in (1, 2, 3):
        await add(redis, n)
    first_stop = asyncio.Event()

    async def stop_after_first(_entry_id: str, _job: Job) -> None:
        first_stop.set()

    first_run = Recorder(hook=stop_after_first)
    # One batch of three is read; stopping after the first leaves two pending.
    async with asyncio.timeout(STOP_WITHIN_S):
        await make_consumer(redis, first_run, batch=10, claim_idle_ms=60_000).run(first_stop)
    assert first_run.handled == [1]
    assert await pending_count(redis) == 2

    await add(redis, 4)
    second_run = Recorder()
    async with running(make_consumer(redis, second_run, claim_idle_ms=60_000)):
        await second_run.wait_until(lambda: 4 in second_run.handled)
    assert second_run.handled == [2, 3, 4]
    assert await pending_count(redis) == 0


async def test_entries_left_by_a_dead_consumer_are_claimed_after_the_idle_time(
    redis: aioredis.Redis,
) -> None:
    await redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    await add(redis, 1)
    await redis.xreadgroup(GROUP, "ghost", {STREAM: ">"})
    delivered_at = time.monotonic()
    recorder = Recorder()
    consumer = make_consumer(redis, recorder, consumer="live", claim_idle_ms=300)
    async with running(consumer):
        await recorder.wait_until(lambda: 1 in recorder.handled)
    [(_, handled_at)] = recorder.attempts
    assert handled_at - delivered_at >= 0.25
    assert consumer.stats.claimed == 1
    assert await pending_count(redis) == 0


@pytest.mark.parametrize("reader", ["c1", "ghost"], ids=["own", "claimed"])
async def test_an_entry_trimmed_while_pending_is_dead_lettered_without_stopping_the_reader(
    redis: aioredis.Redis, reader: str
) -> None:
    await redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    trimmed_id = await add(redis, 1)
    await add(redis, 2)
    await redis.xreadgroup(GROUP, reader, {STREAM: ">"})
    await redis.xtrim(STREAM, maxlen=1, approximate=False)
    await add(redis, 3)
    recorder = Recorder()
    consumer = make_consumer(redis, recorder, consumer="c1", claim_idle_ms=50)
    async with running(consumer):
        await recorder.wait_until(lambda: {2, 3} <= set(recorder.handled))
    [letter] = await dead_letters(redis)
    assert (letter.entry_id, letter.reason, letter.fields) == (trimmed_id, "trimmed", {})
    assert await pending_count(redis) == 0


class SpawnWorker(Protocol):
    async def __call__(
        self, consumer: str, *, handler_seconds: float, claim_idle_ms: int
    ) -> asyncio.subprocess.Process: ...


@pytest.fixture
async def spawn_worker(redis_url: str) -> AsyncIterator[SpawnWorker]:
    """Starts ``tests.shared.stream_worker`` processes; any still alive at the end are killed."""
    started: list[asyncio.subprocess.Process] = []

    async def spawn(
        consumer: str, *, handler_seconds: float, claim_idle_ms: int
    ) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.shared.stream_worker",
            redis_url,
            STREAM,
            GROUP,
            consumer,
            "--handler-seconds",
            str(handler_seconds),
            "--claim-idle-ms",
            str(claim_idle_ms),
            cwd=ROOT,
        )
        started.append(process)
        return process

    yield spawn
    for process in started:
        if process.returncode is None:
            process.kill()
            await process.wait()


@pytest.fixture
async def waiter(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """A client for BLPOP: its socket timeout outlasts the blocking pop."""
    client = aioredis.Redis.from_url(redis_url, socket_timeout=20)
    yield client
    await client.aclose()


async def popped(waiter: aioredis.Redis, key: str) -> str:
    """The next id the worker pushes onto ``key``; fails after 10 s."""
    reply = await waiter.blpop([key], timeout=10)
    assert reply is not None, f"nothing pushed onto {key}"
    return text(reply[1])


async def add_and_see_started(redis: aioredis.Redis, waiter: aioredis.Redis) -> str:
    """Add job 1 and wait until a worker has started on it: its entry id."""
    entry_id = await add(redis, 1)
    assert await popped(waiter, started_key(STREAM)) == entry_id
    return entry_id


async def assert_exits_0(worker: asyncio.subprocess.Process) -> None:
    async with asyncio.timeout(5):
        assert await worker.wait() == 0


async def assert_completed_once(redis: aioredis.Redis, entry_id: str) -> None:
    assert await redis.hgetall(completions_key(STREAM)) == {entry_id.encode(): b"1"}
    assert await pending_count(redis) == 0


async def test_an_entry_of_a_consumer_killed_mid_handler_is_claimed_and_completed_once(
    redis: aioredis.Redis, waiter: aioredis.Redis, spawn_worker: SpawnWorker
) -> None:
    doomed = await spawn_worker("doomed", handler_seconds=60, claim_idle_ms=60_000)
    entry_id = await add_and_see_started(redis, waiter)
    doomed.kill()
    assert await doomed.wait() == -signal.SIGKILL

    rescuer = await spawn_worker("rescuer", handler_seconds=0, claim_idle_ms=300)
    assert await popped(waiter, completed_key(STREAM)) == entry_id
    rescuer.send_signal(signal.SIGTERM)
    await assert_exits_0(rescuer)

    await assert_completed_once(redis, entry_id)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_stop_signal_lets_a_worker_finish_its_entry_and_exit_0(
    sig: signal.Signals,
    redis: aioredis.Redis,
    waiter: aioredis.Redis,
    spawn_worker: SpawnWorker,
) -> None:
    worker = await spawn_worker("w1", handler_seconds=0.5, claim_idle_ms=60_000)
    entry_id = await add_and_see_started(redis, waiter)
    signalled_at = time.monotonic()
    worker.send_signal(sig)
    await assert_exits_0(worker)
    assert time.monotonic() - signalled_at < 3
    await assert_completed_once(redis, entry_id)


# --- stopping ----------------------------------------------------------------


async def test_stop_returns_at_once_from_an_idle_blocking_read(redis: aioredis.Redis) -> None:
    await add(redis, 1)
    recorder = Recorder()
    stop = asyncio.Event()
    # The default BLOCK of 2 s: stop must not wait for it to run out.
    task = asyncio.create_task(make_consumer(redis, recorder, block_ms=2_000).run(stop))
    await recorder.wait_until(lambda: recorder.handled == [1])
    stop.set()
    stopped_at = time.monotonic()
    async with asyncio.timeout(STOP_WITHIN_S):
        await task
    assert time.monotonic() - stopped_at < 0.5


async def test_stop_finishes_the_entry_being_handled_and_leaves_the_rest_pending(
    redis: aioredis.Redis,
) -> None:
    entered = asyncio.Event()
    release = asyncio.Event()
    finished: list[int] = []

    async def slow(_entry_id: str, job: Job) -> None:
        entered.set()
        await release.wait()
        finished.append(job.n)

    await add(redis, 1)
    await add(redis, 2)
    stop = asyncio.Event()
    consumer = make_consumer(redis, Recorder(hook=slow), batch=10)
    task = asyncio.create_task(consumer.run(stop))
    async with asyncio.timeout(5):
        await entered.wait()
    stop.set()
    await asyncio.sleep(0)
    assert not task.done()
    release.set()
    async with asyncio.timeout(STOP_WITHIN_S):
        await task
    assert finished == [1]
    assert consumer.stats.handled == 1
    [row] = await redis.xpending_range(STREAM, GROUP, "-", "+", 10)
    assert row["times_delivered"] == 1, "entry 2 stays pending, never attempted"


async def test_an_idle_consumer_makes_one_blocking_read_per_block_time_and_nothing_else() -> None:
    """An idle consumer does not spin: its loop turns once per blocking read, no other command.

    Its CPU cost while idle is a measurement, not a test: ``bench/stream_idle.py``.
    A Redis of its own: the command counts are the server's, and no other test's belong in them.
    """
    with RedisServer(databases=1) as server:
        redis = aioredis.Redis.from_url(server.url)
        try:
            await _idle_consumer_only_reads(redis)
        finally:
            await redis.aclose()


async def _idle_consumer_only_reads(redis: aioredis.Redis) -> None:

    async def commands() -> dict[str, int]:
        stats: dict[str, dict[str, Any]] = await redis.info("commandstats")
        return {name.removeprefix("cmdstat_"): int(row["calls"]) for name, row in stats.items()}

    turns = 0

    def turned() -> None:
        nonlocal turns
        turns += 1

    consumer = make_consumer(
        redis, Recorder(), block_ms=2_000, claim_idle_ms=30_000, on_turn=turned
    )
    async with running(consumer):
        # Blocked in its read means the start-up claim scan is behind it.
        await eventually(lambda: blocked_in_read(redis))
        before, turns_before = await commands(), turns
        await asyncio.sleep(1.0)  # a measuring window, not a wait for an event
        after, idle_turns = await commands(), turns - turns_before
    made = {name: n - before.get(name, 0) for name, n in after.items()}
    assert made.get("xreadgroup", 0) <= 2
    others = {name: n for name, n in made.items() if n and name not in ("xreadgroup", "info")}
    assert others == {}, "only blocking reads while idle: no claim scan, no polling"
    assert idle_turns <= 2, "the loop turns once per blocking read, not in between"


# --- Redis going away ----------------------------------------------------------


async def test_the_consumer_recovers_when_redis_restarts_empty() -> None:
    with RedisServer(databases=1) as server:
        # Fewer redis-py retries than the default ten, only to keep the outage short.
        client = aioredis.Redis.from_url(server.url, retry=Retry(NoBackoff(), 1))
        recorder = Recorder()
        consumer = make_consumer(client, recorder)
        try:
            async with running(consumer):
                await add(client, 1)
                await recorder.wait_until(lambda: 1 in recorder.handled)
                await asyncio.to_thread(server.kill)

                async def errors_seen() -> bool:
                    return consumer.stats.redis_errors >= 2

                await eventually(errors_seen)
                await asyncio.to_thread(server.restart)
                await add(client, 2)
                await recorder.wait_until(lambda: 2 in recorder.handled, within=10)
            assert await group_exists(client), "the group was recreated"
            assert await pending_count(client) == 0
        finally:
            await client.aclose()


async def test_a_group_destroyed_under_a_running_consumer_is_recreated(
    redis: aioredis.Redis,
) -> None:
    recorder = Recorder()
    consumer = make_consumer(redis, recorder)
    async with running(consumer):
        await add(redis, 1)
        await recorder.wait_until(lambda: 1 in recorder.handled)
        await redis.xgroup_destroy(STREAM, GROUP)
        await add(redis, 2)
        await recorder.wait_until(lambda: 2 in recorder.handled)
    # Recreated at start_id "0": entry 1 comes again (handlers are idempotent).
    assert recorder.handled == [1, 1, 2]
    assert consumer.stats.redis_errors >= 1
    assert await pending_count(redis) == 0


async def test_a_redis_error_that_persists_is_retried_until_it_clears(
    redis: aioredis.Redis,
) -> None:
    await redis.set(STREAM, "not a stream")
    recorder = Recorder()
    consumer = make_consumer(redis, recorder)

    async def errors_seen() -> bool:
        return consumer.stats.redis_errors >= 3

    async with running(consumer):
        await eventually(errors_seen)
        await redis.delete(STREAM)
        await add(redis, 1)
        await recorder.wait_until(lambda: 1 in recorder.handled)
    assert recorder.handled == [1]
