"""A ``Sender`` in a process of its own, for tests that run several or kill one.

    python -m tests.shared.sending.sender_burst burst NAME --chats 1,2,-5 --messages N
    python -m tests.shared.sending.sender_burst once NAME --chat C --text T --key K [--hold]

Settings come from the environment like a service's (``TELEGRAM_BOT_TOKEN``,
``TELEGRAM_API_URL``, ``REDIS_URL``, ``TELEGRAM_RATE_*``). ``burst`` sends
``"{NAME} {chat} {i}"`` for i in 0..N-1 to every chat: one chat's messages
in order, the chats concurrently. ``once`` sends one text (parts and all)
under an idempotency key. Both wait for a token on the Redis list
``--go-key`` first when given (so several processes start together), then
push one JSON object per result, and ``{"done": true}`` at the end, onto the
Redis list ``results_key(NAME)``, where a test waits for them with BLPOP;
``--hold`` then stays alive until killed, like a process that died before
acknowledging its work.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import msgspec
import redis.asyncio as aioredis

from shared import log
from shared.connections import redis_client
from shared.ratelimit import FloodBudget
from shared.sending.results import SendResult
from shared.sending.retry import RetryPolicy
from shared.sending.sender import Sender
from shared.settings import BaseSettings, load
from shared.telegram import TelegramClient

READY_KEY = "test:sender:ready"


def results_key(name: str) -> str:
    return f"test:sender:results:{name}"


def burst_text(name: str, chat_id: int, index: int) -> str:
    return f"{name} {chat_id} {index}"


class _Results:
    def __init__(self, redis: aioredis.Redis, name: str) -> None:
        self.redis = redis
        self.key = results_key(name)

    async def emit(self, **fields: Any) -> None:
        await self.redis.rpush(self.key, msgspec.json.encode(fields))


def _budget(settings: BaseSettings, args: argparse.Namespace) -> FloodBudget:
    base = FloodBudget.from_settings(settings)
    return msgspec.structs.replace(
        base, group_limit=args.group_limit, group_window_s=args.group_window
    )


async def _wait_for_go(redis: aioredis.Redis, go_key: str | None) -> None:
    if go_key is None:
        return
    await redis.rpush(READY_KEY, 1)
    await redis.blpop([go_key], timeout=30)


async def _burst(sender: Sender, args: argparse.Namespace, results: _Results) -> None:
    chats = [int(chat) for chat in args.chats.split(",") if chat]

    async def one_chat(chat_id: int) -> None:
        for index in range(args.messages):
            text = burst_text(args.name, chat_id, index)
            result = await sender.send(chat_id, text, key=f"{args.name}:{chat_id}:{index}")
            await results.emit(chat_id=chat_id, index=index, **_result(result))

    await asyncio.gather(*(one_chat(chat) for chat in chats))


async def _once(sender: Sender, args: argparse.Namespace, results: _Results) -> None:
    text = args.text if args.repeat <= 1 else "\n".join([args.text] * args.repeat)
    result = await sender.send(args.chat, text, key=args.key)
    await results.emit(chat_id=args.chat, **_result(result))


def _result(result: SendResult) -> dict[str, Any]:
    return {
        "outcome": str(result.outcome),
        "message_ids": list(result.message_ids),
        "resumed_at": result.resumed_at,
    }


async def _main(args: argparse.Namespace) -> int:
    settings = load(BaseSettings)
    redis = redis_client(settings, blocking=True)  # BLPOP on --go-key
    client = TelegramClient.from_settings(settings)
    retry = RetryPolicy(attempts=args.retry_attempts, base_s=args.retry_base, cap_s=60.0)
    sender = Sender(client, redis, _budget(settings, args), retry=retry)
    results = _Results(redis, args.name)
    try:
        await _wait_for_go(redis, args.go_key)
        run = _burst if args.mode == "burst" else _once
        await run(sender, args, results)
        await results.emit(done=True)
        if args.hold:
            await asyncio.Event().wait()  # until SIGKILL
    finally:
        await sender.close()
        await redis.aclose()
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="sender_burst")
    parser.add_argument("mode", choices=["burst", "once"])
    parser.add_argument("name")
    parser.add_argument("--chats", default="")
    parser.add_argument("--messages", type=int, default=1)
    parser.add_argument("--chat", type=int, default=0)
    parser.add_argument("--text", default="")
    parser.add_argument("--repeat", type=int, default=1, help="repeat --text as lines")
    parser.add_argument("--key", default=None)
    parser.add_argument("--hold", action="store_true")
    parser.add_argument("--go-key", default=None)
    parser.add_argument("--group-limit", type=int, default=20)
    parser.add_argument("--group-window", type=float, default=60.0)
    parser.add_argument("--retry-attempts", type=int, default=5)
    parser.add_argument("--retry-base", type=float, default=0.05)
    args = parser.parse_args(argv)
    settings_secrets = [load(BaseSettings).telegram_bot_token.reveal()]
    log.configure("sender-burst", level="INFO", fmt="json", secrets=settings_secrets)
    return asyncio.run(_main(args))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
