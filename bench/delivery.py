"""Delivery benchmark: several sender processes sharing one flood budget.

    .venv/bin/python -m bench.delivery [--chats 100] [--messages 5] [--processes 3] [--reactions]

Starts its own ``redis-server`` and fake Telegram (enforcing Telegram's
default limits: 1/s per chat with a burst of 3, 30 per second in all), forks
``--processes`` sender processes that share the Redis budget at the default
rates (``TELEGRAM_RATE_GLOBAL_PER_S=30``, ``TELEGRAM_RATE_CHAT_PER_S=1``),
lets them all start at once, and has them send ``--messages`` messages to
each of ``--chats`` private chats (each process owns a third of the chats;
one chat's messages in order, the chats concurrently). Then it prints:

* delivered messages per second, from the first request to the last answer,
  as a fraction of the 30/s budget (goal: at least 95 %);
* the number of 429 answers (goal: 0);
* the tightest 1-second window: the shortest time any 31 consecutive
  requests took at the fake (it must stay above 1 s) and the most requests
  in any 1-second window, which show how much jitter margin is left.

With ``--reactions`` (and ``--think-s``, the PO's time before each reply,
``--gap-s``, the user's before each next message) each reply comes as the
relay's does: a 👀 on the
user's message first (only if a slot is free now), the reply, then the 👀
removed if it was shown (each only in a slot free now; the 👀 tried again a
second later up to 3 times while the reply has not gone, the removal up to
10 times). Then it also prints the
reactions sent and skipped, every call's share of the budget, and the most
reactions any chat sent between two of its replies (goal: at most one: a
reaction never delays a reply by more than one send slot).

The workers are forked before any event loop runs, so each is a fresh
process with its own loop, Redis connections and HTTP session; forking
saves each worker an interpreter start and its imports. The run is
bounded by ``--timeout``; exit status 1 if a goal is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import time
from multiprocessing.process import BaseProcess

import msgspec
import redis.asyncio as aioredis

from bench import machine
from services.fakes.redis_server import RedisServer, free_port
from services.fakes.telegram import Call, FakeTelegram
from shared import log
from shared.connections import redis_client
from shared.sending.sender import Sender
from shared.settings import BaseSettings, load

GO_KEY = "bench:go"
READY_KEY = "bench:ready"
DONE_KEY = "bench:done"
BUDGET_PER_S = 30.0
GOAL_FRACTION = 0.95


class Report(msgspec.Struct, frozen=True):
    processes: int
    chats: int
    messages: int
    delivered: int
    throttled: int
    seconds: float
    per_second: float
    fraction: float
    tightest_window_s: float
    max_in_one_second: int
    reactions: int = 0
    """``setMessageReaction`` calls answered 200."""
    reactions_skipped: int = 0
    """👀 not sent: no slot free at that moment."""
    calls_fraction: float = 0.0
    """Every successful call (replies and reactions) per second, of the budget."""
    max_reactions_between_replies: int = 0


# ---------------------------------------------------------------------------
# A sender process


def worker(index: int, processes: int, args: argparse.Namespace, env: dict[str, str]) -> None:
    os.environ.update(env)
    log.configure(f"bench-{index}", level="WARNING", fmt="json")
    sys.exit(asyncio.run(_work(index, processes, args)))


async def _work(index: int, processes: int, args: argparse.Namespace) -> int:
    settings = load(BaseSettings)
    redis = redis_client(settings, blocking=True)
    sender = Sender.from_settings(settings, redis)
    chats = [chat for chat in range(1, args.chats + 1) if chat % processes == index]
    failed = 0
    skipped: list[int] = []
    removals: list[asyncio.Task[None]] = []

    async def one_chat(chat_id: int) -> None:
        nonlocal failed
        for n in range(args.messages):
            if n:
                await asyncio.sleep(args.gap_s)  # the user reads the reply, writes again
            # The user's messages are 1..messages in each chat (injected first).
            replied = asyncio.Event()
            added = asyncio.create_task(add(chat_id, n + 1, replied))
            await asyncio.sleep(args.think_s)  # the PO at work
            result = await sender.send(chat_id, f"message {n} to chat {chat_id}")
            replied.set()
            failed += not result.delivered
            removals.append(asyncio.create_task(remove(chat_id, n + 1, added)))

    async def add(chat_id: int, message_id: int, replied: asyncio.Event) -> bool:
        # As the relay does: a slot free now, tried again a chat interval later, 3 times,
        # unless the reply went first.
        for attempt in range(3):
            if attempt:
                await asyncio.sleep(1.0)
                if replied.is_set():
                    return False
            if await sender.react(chat_id, message_id, "👀", wait=False):
                return True
        return False

    async def remove(chat_id: int, message_id: int, added: asyncio.Task[bool]) -> None:
        if not await added:
            skipped.append(1)
            return
        # As the relay does: only a slot free now, tried again a chat interval later.
        for attempt in range(10):
            if attempt:
                await asyncio.sleep(1.0)
            if await sender.react(chat_id, message_id, None, wait=False):
                return

    async def plain_chat(chat_id: int) -> None:
        nonlocal failed
        for n in range(args.messages):
            result = await sender.send(chat_id, f"message {n} to chat {chat_id}")
            failed += not result.delivered

    try:
        await redis.rpush(READY_KEY, index)
        await redis.blpop([GO_KEY], timeout=60)
        chat_run = one_chat if args.reactions else plain_chat
        await asyncio.gather(*(chat_run(chat) for chat in chats))
        await asyncio.gather(*removals)
        await redis.rpush(DONE_KEY, f"{failed}:{len(skipped)}")
    finally:
        await sender.close()
        await redis.aclose()
    return 0


# ---------------------------------------------------------------------------
# The run


def _sends(fake: FakeTelegram) -> list[Call]:
    return sorted(fake.calls_to("sendMessage"), key=lambda c: c.started)


def tightest_window(starts: list[float], limit: int) -> float:
    """The shortest time ``limit + 1`` consecutive requests took (inf if fewer)."""
    spans = [b - a for a, b in zip(starts, starts[limit:], strict=False)]
    return min(spans, default=float("inf"))


def most_in_window(starts: list[float], window: float = 1.0) -> int:
    most, first = 0, 0
    for last, at in enumerate(starts):
        while starts[first] <= at - window:
            first += 1
        most = max(most, last - first + 1)
    return most


def report(fake: FakeTelegram, args: argparse.Namespace, skipped: int = 0) -> Report:
    calls = _sends(fake)
    ok = [c for c in calls if c.status == 200]
    starts = [c.started for c in calls]
    seconds = max(c.finished for c in ok) - min(starts) if ok else 0.0
    per_second = len(ok) / seconds if seconds else 0.0
    reactions = [c for c in fake.calls_to("setMessageReaction") if c.status == 200]
    every = sorted(calls + fake.calls_to("setMessageReaction"), key=lambda c: c.started)
    every_ok = [c for c in every if c.status == 200]
    span = max(c.finished for c in every_ok) - min(c.started for c in every) if every_ok else 0.0
    return Report(
        reactions=len(reactions),
        reactions_skipped=skipped,
        calls_fraction=round(len(every_ok) / span / BUDGET_PER_S, 4) if span else 0.0,
        max_reactions_between_replies=_most_reactions_between_replies(every),
        processes=args.processes,
        chats=args.chats,
        messages=args.messages,
        delivered=len(ok),
        throttled=len(fake.throttled),
        seconds=round(seconds, 3),
        per_second=round(per_second, 2),
        fraction=round(per_second / BUDGET_PER_S, 4),
        tightest_window_s=round(tightest_window(starts, int(BUDGET_PER_S)), 4),
        max_in_one_second=most_in_window(starts),
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _most_reactions_between_replies(calls: list[Call]) -> int:
    """Per chat, the most reaction calls that started between two of its replies."""
    most = 0
    between: dict[object, int] = {}
    for call in calls:
        chat = call.params.get("chat_id")
        if call.method == "sendMessage":
            between[chat] = 0
        elif chat in between:
            between[chat] += 1
            most = max(most, between[chat])
    return most


async def _wait_for(
    redis: aioredis.Redis, key: str, count: int, deadline: float
) -> list[bytes | str]:
    values: list[bytes | str] = []
    for _ in range(count):
        left = max(1.0, deadline - time.monotonic())
        popped = await redis.blpop([key], timeout=left)
        if popped is None:
            raise TimeoutError(f"only {len(values)} of {count} processes reported on {key}")
        values.append(popped[1])
    return values


async def run(args: argparse.Namespace, redis_url: str, port: int) -> Report:
    deadline = time.monotonic() + args.timeout
    redis = aioredis.Redis.from_url(redis_url, socket_timeout=args.timeout + 5)
    async with FakeTelegram(port=port) as fake:
        if args.reactions:
            for chat in range(1, args.chats + 1):
                for n in range(args.messages):
                    fake.inject_message(chat, f"question {n}")
        try:
            await _wait_for(redis, READY_KEY, args.processes, deadline)
            await redis.rpush(GO_KEY, *["go"] * args.processes)
            failures = await _wait_for(redis, DONE_KEY, args.processes, deadline)
        finally:
            await redis.aclose()
        counts = [
            [int(x) for x in (f.decode() if isinstance(f, bytes) else f).split(":")]
            for f in failures
        ]
        result = report(fake, args, skipped=sum(c[1] for c in counts))
    if any(c[0] for c in counts):
        print(f"failed sends per process: {[c[0] for c in counts]}", file=sys.stderr)
    return result


def start_workers(args: argparse.Namespace, env: dict[str, str]) -> list[BaseProcess]:
    fork = multiprocessing.get_context("fork")
    workers: list[BaseProcess] = [
        fork.Process(target=worker, args=(i, args.processes, args, env), daemon=True)
        for i in range(args.processes)
    ]
    for process in workers:
        process.start()
    return workers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.delivery", description=__doc__.split("\n")[0])
    parser.add_argument("--chats", type=int, default=100)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--reactions", action="store_true", help="👀 and its removal per reply")
    parser.add_argument("--think-s", type=float, default=0.0, help="with --reactions: PO time")
    parser.add_argument("--gap-s", type=float, default=0.0, help="with --reactions: user time")
    args = parser.parse_args(argv)
    port = free_port()
    with RedisServer() as server:
        env = {
            "TELEGRAM_BOT_TOKEN": "123456:TEST-token_abc",
            "TELEGRAM_API_URL": f"http://127.0.0.1:{port}",
            "REDIS_URL": server.url,
        }
        workers = start_workers(args, env)
        try:
            result = asyncio.run(run(args, server.url, port))
        finally:
            for process in workers:
                process.join(5)
                if process.exitcode is None:
                    process.kill()
    print(msgspec.json.format(msgspec.json.encode(result)).decode())
    print(
        f"{result.delivered} messages in {result.seconds:.2f} s = {result.per_second:.2f}/s "
        f"= {result.fraction:.1%} of the {BUDGET_PER_S:.0f}/s budget; "
        f"{result.throttled} x 429; tightest 31 requests took {result.tightest_window_s:.3f} s"
    )
    if args.reactions:
        print(
            f"{result.reactions} reactions ({result.reactions_skipped} 👀 skipped); every call: "
            f"{result.calls_fraction:.1%} of the budget; at most "
            f"{result.max_reactions_between_replies} reaction(s) between two replies in a chat"
        )
    print(machine.describe())
    fraction = result.calls_fraction if args.reactions else result.fraction
    met = fraction >= GOAL_FRACTION and result.throttled == 0
    if args.reactions:
        met = met and result.max_reactions_between_replies <= 1
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
