"""Relay benchmark: the latency the relay adds, its throughput, and the cost of idle sessions.

    .venv/bin/python -m bench.relay [--users 100] [--rate 200] [--seconds 10]
                                    [--idle-sessions 10000] [--idle-seconds 30]

Starts its own ``redis-server`` and, in this process, a fake Telegram with
its flood limits lifted and an echo PO (one blocking ``XREAD`` over every
user's input stream, answering at once). Relays are real ``telegram-bot
relay`` processes (``TELEGRAM_RATE_*`` raised so the shared flood budget is
not what is measured). The users' sessions are open (``session:{u}``,
status ``RUNNING``), as for users already talking to their PO.

For 1 relay, then 2:

* latency: ``--rate`` messages per second for ``--seconds``, spread over
  ``--users`` users (open loop: the schedule does not wait for replies).
  Each message is timed from just before its ``XADD`` to
  ``bot:incoming:{p}`` until the fake Telegram received the reply's
  ``sendMessage``, minus the PO's own time (from the PO reading the input
  to its output being written). What is left is what the bot adds: the
  relay reading, forwarding (session check in the same script), and, on the
  way back, reading the output and sending it;
* throughput: ``--users`` × 20 messages written at once; messages per second
  from the first write to the last reply received.

Then the same latency run through the whole bot, as the issue defines it
("from update to sendMessage"): a real ``telegram-bot ingress`` process
polls the fake Telegram (users whitelisted by a fake API in this process),
and each message is timed from just before it is posted to the fake
Telegram as a user's message (``POST /_fake/chats/{chat}/messages``: the
update exists when that returns) until the reply's ``sendMessage``, minus
the PO's time. The ingress's long poll, aiogram, the auth check and its
``XADD`` are in it. The goal is judged on these rows.

Then idle: ``--idle-sessions`` open sessions (active users with a reply
cursor), one relay; after it loaded them and settled, its CPU (from
``/proc/<pid>/stat``) over ``--idle-seconds`` and its RSS (``VmRSS``), then
the latency of single messages to idle users.

Prints a Markdown summary; exit status 1 if a goal is missed (p99 added at
most 15 ms at 200 msg/s, idle CPU at most 2 % of a core, RSS at most 100 MB).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import redis.asyncio as aioredis

from bench import machine
from services.fakes.api import FakeApi
from services.fakes.redis_server import RedisServer, free_port
from services.fakes.telegram import DEFAULT_TOKEN
from shared import keys
from shared.schemas import IncomingMessage, POWorkerInput, decode_entry, encode_entry

CLI = str(Path(sys.executable).with_name("telegram-bot"))
CHAT_BASE = 700_000
GOAL_P99_MS = 15.0
GOAL_IDLE_CPU = 0.02
GOAL_RSS_MB = 100.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- the PO and Telegram sides, timed ---------------------------------------------------


@dataclass
class Timeline:
    """time.monotonic() per message text (``b{n}``): CLOCK_MONOTONIC, the same in every process."""

    written: dict[str, float] = field(default_factory=dict)
    po_read: dict[str, float] = field(default_factory=dict)
    po_wrote: dict[str, float] = field(default_factory=dict)
    received: dict[str, float] = field(default_factory=dict)

    def added_ms(self, text: str) -> float:
        """Total time minus the PO's own: what the bot adds."""
        total = self.received[text] - self.written[text]
        return (total - (self.po_wrote[text] - self.po_read[text])) * 1000

    async def load_po_times(self, redis: aioredis.Redis) -> None:
        times: Any = await redis.hgetall(PO_TIMES)
        for text, value in times.items():
            read, wrote = value.split()
            self.po_read[text.decode()] = float(read)
            self.po_wrote[text.decode()] = float(wrote)


PO_TIMES = "bench:po:times"
"""Hash the echo PO writes: message text -> "read wrote" (monotonic seconds)."""


class EchoPO:
    """Every user's PO at once, in a process of its own: one blocking XREAD, an echo, timed."""

    def __init__(self, url: str, users: list[int]) -> None:
        self._redis = aioredis.Redis.from_url(url, socket_timeout=30)
        self._cursors = {keys.po_input(user): "0-0" for user in users}

    async def run(self) -> None:
        try:
            while True:
                reply: Any = await self._redis.xread(self._cursors, count=100, block=5000)  # type: ignore[arg-type]
                if reply:
                    await self._answer(reply)
        finally:
            await self._redis.aclose()

    async def _answer(self, reply: Any) -> None:
        read = time.monotonic()
        texts = []
        async with self._redis.pipeline(transaction=False) as pipe:
            for stream, entries in reply:
                name = stream.decode()
                user_id = int(name.split(":")[2])
                for entry_id, fields in entries:
                    message = decode_entry(fields, POWorkerInput)
                    texts.append(message.text)
                    output = {
                        "request_id": message.request_id,
                        "user_id": user_id,
                        "text": message.text,
                        "is_final": True,
                    }
                    pipe.xadd(keys.po_output(user_id), {"data": msgspec.json.encode(output)})
                    self._cursors[name] = entry_id.decode()
            await pipe.execute()
        wrote = time.monotonic()
        await self._redis.hset(PO_TIMES, mapping={text: f"{read} {wrote}" for text in texts})


def start_po(url: str, users: list[int]) -> subprocess.Popen[bytes]:
    """The echo PO for ``users`` only: real POs each block on their own input stream,
    and one read over thousands of streams would cost Redis milliseconds per wake-up."""
    ids = ",".join(map(str, users))
    return _popen([sys.executable, "-m", "bench.relay", "--po", url, "--po-users", ids])


def _popen(command: list[str]) -> subprocess.Popen[bytes]:
    # Popen returns at once (it does not wait for the child): fine inside the loop.
    return subprocess.Popen(command, stdout=subprocess.DEVNULL)


class FakeTelegramProcess:
    """The fake Telegram in a process of its own, so its work does not queue the bench's."""

    def __init__(self) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        self._process: subprocess.Popen[bytes] | None = None
        self._http: aiohttp.ClientSession | None = None
        self._seen = 0

    async def start(self) -> None:
        port = self.url.rsplit(":", 1)[1]
        self._process = _popen([sys.executable, "-m", "services.fakes.telegram", "--port", port])
        self._http = aiohttp.ClientSession()
        async with asyncio.timeout(30):
            while True:
                with contextlib.suppress(aiohttp.ClientError):
                    async with self._http.post(f"{self.url}/_fake/flood", json={"off": True}) as r:
                        if r.status == 200:
                            return
                await asyncio.sleep(0.1)

    async def post_message(self, chat_id: int, text: str) -> None:
        """A user's message, as Telegram would queue it for the bot's getUpdates."""
        assert self._http is not None
        url = f"{self.url}/_fake/chats/{chat_id}/messages"
        async with self._http.post(url, json={"text": text}) as response:
            response.raise_for_status()

    async def collect(self, timeline: Timeline) -> None:
        """When each sendMessage since the last collect reached the fake (its ``started``)."""
        assert self._http is not None
        query = {"method": "sendMessage", "since": str(self._seen)}
        async with self._http.get(f"{self.url}/_fake/calls", params=query) as response:
            calls = (await response.json())["result"]
        for call in calls:
            self._seen = max(self._seen, int(call["seq"]))
            if call["status"] == 200:
                timeline.received.setdefault(call["params"]["text"], float(call["started"]))

    async def wait_received(self, timeline: Timeline, texts: list[str], timeout: float) -> None:
        pending = list(texts)
        async with asyncio.timeout(timeout):
            while True:
                await self.collect(timeline)
                pending = [text for text in pending if text not in timeline.received]
                if not pending:
                    return
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)


# --- the bot's processes (relays, the ingress) ------------------------------------------


@dataclass
class ChildProcess:
    """A ``telegram-bot`` process the bench started: its pid (CPU, RSS) and log."""

    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        utime, stime = int(fields[11]), int(fields[12])
        return (utime + stime) / CLOCK_TICKS

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_relay(env: dict[str, str], name: str, log_dir: Path) -> ChildProcess:
    log = log_dir / f"{name}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [CLI, "relay"],
            env={**os.environ, **env, "RELAY_NAME": name},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return ChildProcess(process, log)


def start_ingress(env: dict[str, str], log_dir: Path) -> ChildProcess:
    """``telegram-bot ingress`` (polling), its output in ``log_dir``."""
    log = log_dir / "bench-ingress.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [CLI, "ingress"], env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
    return ChildProcess(process, log)


async def wait_for_leases(redis: aioredis.Redis, relays: int, timeout: float = 90) -> None:
    """Until every partition is held, shared evenly by ``relays`` relays (no handover left)."""
    async with asyncio.timeout(timeout):
        while True:
            values: list[Any] = await redis.mget([f"bot:lease:{p}" for p in range(keys.PARTITIONS)])
            shares = collections.Counter(values)
            if (
                None not in shares
                and len(shares) == relays
                and max(shares.values()) - min(shares.values()) <= 1
            ):
                return
            await asyncio.sleep(0.1)


# --- users and messages -------------------------------------------------------------------


async def open_sessions(redis: aioredis.Redis, users: list[int]) -> None:
    """Users already talking to a RUNNING PO, their replies flowing (as after a first message)."""
    for start in range(0, len(users), 1000):
        async with redis.pipeline(transaction=False) as pipe:
            for user in users[start : start + 1000]:
                partition = keys.partition_of(user)
                pipe.set(keys.session(user), keys.po_worker_id(user), ex=keys.SESSION_TTL_S)
                pipe.hset(keys.worker_status(keys.po_worker_id(user)), "status", "RUNNING")
                pipe.set(keys.user_chat(user), CHAT_BASE + user, ex=keys.SESSION_TTL_S)
                pipe.sadd(f"bot:active:{partition}", user)
                pipe.hset(f"bot:cursor:{partition}", str(user), "0-0")
            await pipe.execute()


async def write(redis: aioredis.Redis, user: int, text: str, timeline: Timeline) -> None:
    message = IncomingMessage(
        user_id=user,
        telegram_id=CHAT_BASE + user,
        chat_id=CHAT_BASE + user,
        message_id=1,
        text=text,
        update_id=1,
    )
    timeline.written[text] = time.monotonic()
    await redis.xadd(keys.incoming(keys.partition_of(user)), encode_entry(message))  # type: ignore[arg-type]


class Counter:
    def __init__(self) -> None:
        self.n = 0

    def next(self) -> str:
        self.n += 1
        return f"b{self.n}"


Send = Callable[[int, str], Awaitable[None]]
"""How a user's message enters the bot: ``send(user, text)`` notes its time and sends it."""


async def open_loop(
    send: Send, users: list[int], rate: float, seconds: float, names: Counter
) -> list[str]:
    """``rate`` messages per second on a fixed schedule, round-robin over ``users``."""
    texts = []
    start = time.monotonic()
    for n in range(int(rate * seconds)):
        delay = start + n / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        text = names.next()
        texts.append(text)
        await send(users[n % len(users)], text)
    return texts


async def burst(
    redis: aioredis.Redis, users: list[int], per_user: int, timeline: Timeline, names: Counter
) -> tuple[list[str], float]:
    texts = [names.next() for _ in range(len(users) * per_user)]
    started = time.monotonic()
    for chunk in range(0, len(texts), 500):
        async with redis.pipeline(transaction=False) as pipe:
            for index, text in enumerate(texts[chunk : chunk + 500], start=chunk):
                user = users[index % len(users)]
                message = IncomingMessage(
                    user_id=user,
                    telegram_id=CHAT_BASE + user,
                    chat_id=CHAT_BASE + user,
                    message_id=1,
                    text=text,
                    update_id=1,
                )
                timeline.written[text] = time.monotonic()
                pipe.xadd(keys.incoming(keys.partition_of(user)), encode_entry(message))  # type: ignore[arg-type]
            await pipe.execute()
    return texts, started


# --- the scenarios -------------------------------------------------------------------------


class LoadResult(msgspec.Struct):
    path: str
    """"relay": timed from the XADD to ``bot:incoming``; "bot": from the update."""
    relays: int
    users: int
    rate: float
    sent: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    relay_cpu: float
    """Mean CPU of the relays during the latency run, in cores."""
    ingress_cpu: float | None
    throughput: float | None
    burst: int
    rss_mb: float
    """The first relay's RSS after the run."""


class IdleResult(msgspec.Struct):
    sessions: int
    cpu: float
    rss_mb: float
    rss_start_mb: float
    latency_ms: list[float]


@dataclass
class Rig:
    url: str
    redis: aioredis.Redis
    fake: FakeTelegramProcess
    timeline: Timeline
    env: dict[str, str]
    log_dir: Path
    names: Counter = field(default_factory=Counter)


async def load_scenario(
    rig: Rig, relays: int, users: int, rate: float, seconds: float, *, whole_bot: bool = False
) -> LoadResult:
    await rig.redis.flushdb()
    user_ids = list(range(1, users + 1))
    await open_sessions(rig.redis, user_ids)
    po = start_po(rig.url, user_ids)
    processes = [start_relay(rig.env, f"bench-relay-{n}", rig.log_dir) for n in range(relays)]
    api = FakeApi()
    ingress: ChildProcess | None = None
    try:
        if whole_bot:
            await api.start()
            for user in user_ids:
                api.add_user(CHAT_BASE + user, user_id=user)
            ingress = start_ingress({**rig.env, "API_URL": api.url}, rig.log_dir)
            send = _via_telegram(rig)
        else:
            send = _via_stream(rig)
        await wait_for_leases(rig.redis, relays)
        # Warm: every user's first message (the ingress also offers its keyboard then).
        warm = [rig.names.next() for _ in user_ids]
        for user, text in zip(user_ids, warm, strict=True):
            await send(user, text)
        await rig.fake.wait_received(rig.timeline, warm, 60)

        watched = [*processes, *([ingress] if ingress else [])]
        cpu_before = [p.cpu_seconds() for p in watched]
        began = time.monotonic()
        texts = await open_loop(send, user_ids, rate, seconds, rig.names)
        await rig.fake.wait_received(rig.timeline, texts, 60)
        elapsed = time.monotonic() - began
        spent = [p.cpu_seconds() - before for p, before in zip(watched, cpu_before, strict=True)]
        cpu = [seconds / elapsed for seconds in spent]
        await rig.timeline.load_po_times(rig.redis)
        added = sorted(rig.timeline.added_ms(text) for text in texts)

        throughput, burst_size = None, 0
        if not whole_bot:
            burst_texts, started = await burst(rig.redis, user_ids, 20, rig.timeline, rig.names)
            await rig.fake.wait_received(rig.timeline, burst_texts, 120)
            last = max(rig.timeline.received[text] for text in burst_texts)
            throughput, burst_size = len(burst_texts) / (last - started), len(burst_texts)
        return LoadResult(
            path="bot" if whole_bot else "relay",
            relays=relays,
            users=users,
            rate=rate,
            sent=len(texts),
            p50_ms=_percentile(added, 50),
            p99_ms=_percentile(added, 99),
            max_ms=added[-1],
            relay_cpu=sum(cpu[:relays]),
            ingress_cpu=cpu[relays] if ingress else None,
            throughput=throughput,
            burst=burst_size,
            rss_mb=processes[0].rss_mb(),
        )
    finally:
        for process in [*processes, *([ingress] if ingress else [])]:
            process.stop()
        if whole_bot:
            await api.stop()
        po.terminate()
        po.wait()


def _via_stream(rig: Rig) -> Send:
    """As the ingress would: the ``IncomingMessage`` added to the partition's stream."""

    async def send(user: int, text: str) -> None:
        await write(rig.redis, user, text, rig.timeline)

    return send


def _via_telegram(rig: Rig) -> Send:
    """As a person would: a message in their chat, which the ingress then polls."""

    async def send(user: int, text: str) -> None:
        rig.timeline.written[text] = time.monotonic()
        await rig.fake.post_message(CHAT_BASE + user, text)

    return send


async def idle_scenario(rig: Rig, sessions: int, idle_seconds: float) -> IdleResult:
    await rig.redis.flushdb()
    user_ids = list(range(1, sessions + 1))
    await open_sessions(rig.redis, user_ids)
    probed = random.Random(7).sample(user_ids, 20)
    po = start_po(rig.url, probed)
    relay = start_relay(rig.env, "bench-relay-idle", rig.log_dir)
    try:
        await wait_for_leases(rig.redis, 1)
        await _wait_loaded(relay, sessions)
        rss_start = relay.rss_mb()
        await asyncio.sleep(5)  # let start-up work finish before measuring
        cpu_before, began = relay.cpu_seconds(), time.monotonic()
        await asyncio.sleep(idle_seconds)
        cpu = (relay.cpu_seconds() - cpu_before) / (time.monotonic() - began)
        rss = relay.rss_mb()
        latencies = []
        for user in probed:
            text = rig.names.next()
            await write(rig.redis, user, text, rig.timeline)
            await rig.fake.wait_received(rig.timeline, [text], 30)
            await rig.timeline.load_po_times(rig.redis)
            latencies.append(rig.timeline.added_ms(text))
            await asyncio.sleep(0.5)
        return IdleResult(sessions, cpu, rss, rss_start, latencies)
    finally:
        relay.stop()
        po.terminate()
        po.wait()


async def _wait_loaded(relay: ChildProcess, sessions: int, timeout: float = 120) -> None:
    """Until the relay's log says it loaded ``sessions`` users over its partitions."""

    def loaded() -> int:
        total = 0
        for line in relay.log.read_text(errors="replace").splitlines():
            with contextlib.suppress(msgspec.DecodeError):
                event = msgspec.json.decode(line)
                if isinstance(event, dict) and event.get("event") == "replies_partition_loaded":
                    total += int(event["users"])
        return total

    await _poll(lambda: _true(loaded() >= sessions), timeout)


async def _true(value: bool) -> bool:
    return value


async def _poll(probe: Callable[[], Awaitable[bool]], timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while True:
            if await probe():
                return
            await asyncio.sleep(0.2)


def _percentile(ordered: list[float], pct: float) -> float:
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


# --- main --------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> int:
    timeline = Timeline()
    fake = FakeTelegramProcess()
    with RedisServer() as server, tempfile.TemporaryDirectory(prefix="bench-relay-") as tmp:
        await fake.start()
        redis = aioredis.Redis.from_url(server.url)
        try:
            rig = Rig(
                url=server.url,
                redis=redis,
                fake=fake,
                timeline=timeline,
                env={
                    "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN,
                    "TELEGRAM_API_URL": fake.url,
                    "REDIS_URL": server.url,
                    "LOG_FORMAT": "json",
                    "LOG_LEVEL": "INFO",
                    "TELEGRAM_RATE_GLOBAL_PER_S": "100000",
                    "TELEGRAM_RATE_CHAT_PER_S": "1000",
                },
                log_dir=Path(tmp),
            )
            loads = [
                await load_scenario(
                    rig, relays, args.users, args.rate, args.seconds, whole_bot=whole_bot
                )
                for whole_bot in (False, True)
                for relays in (1, 2)
            ]
            idle = await idle_scenario(rig, args.idle_sessions, args.idle_seconds)
            calibration = machine.describe(server.url)
        finally:
            await redis.aclose()
            await fake.stop()
    print(report(loads, idle))
    print(calibration)
    # Judged from the update, as the issue asks; the relay-only rows show its share.
    met = all(r.p99_ms <= GOAL_P99_MS for r in loads if r.path == "bot")
    met = met and idle.cpu <= GOAL_IDLE_CPU
    met = met and idle.rss_mb <= GOAL_RSS_MB
    return 0 if met else 1


def report(loads: list[LoadResult], idle: IdleResult) -> str:
    lines = [
        "| timed from | relays | users | rate (msg/s) | messages | added p50 | added p99 "
        "| added max | relay CPU | ingress CPU | throughput (burst) | RSS |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in loads:
        origin = "update (whole bot)" if r.path == "bot" else "`bot:incoming` XADD"
        ingress = "-" if r.ingress_cpu is None else f"{r.ingress_cpu * 100:.0f} %"
        burst = "-" if r.throughput is None else f"{r.throughput:.0f} msg/s ({r.burst})"
        lines.append(
            f"| {origin} | {r.relays} | {r.users} | {r.rate:g} | {r.sent} "
            f"| {r.p50_ms:.1f} ms | {r.p99_ms:.1f} ms | {r.max_ms:.1f} ms "
            f"| {r.relay_cpu * 100:.0f} % | {ingress} | {burst} | {r.rss_mb:.0f} MB |"
        )
    latency = sorted(idle.latency_ms)
    lines += [
        "",
        "| idle sessions | relay CPU at idle | RSS at start | RSS after idle "
        "| one message, added (median / max of 20) |",
        "| --- | --- | --- | --- | --- |",
        f"| {idle.sessions} | {idle.cpu * 100:.2f} % | {idle.rss_start_mb:.0f} MB "
        f"| {idle.rss_mb:.0f} MB | {statistics.median(latency):.1f} ms / {latency[-1]:.1f} ms |",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--idle-sessions", type=int, default=10_000)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--po", metavar="REDIS_URL", help=argparse.SUPPRESS)
    parser.add_argument("--po-users", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.po:  # the echo PO's own process
        asyncio.run(EchoPO(args.po, [int(u) for u in args.po_users.split(",")]).run())
        return
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
