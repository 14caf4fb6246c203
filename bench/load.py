"""The relay benchmark's users and the load they put on the bot.

Users ``1..n`` with open sessions (chat ``CHAT_BASE + user``), and messages
named ``b1``, ``b2``, ... whose write times go into the ``Timeline``: on a
fixed schedule (``open_loop``: it does not wait for replies) or all at
once (``burst``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

from bench.timeline import Timeline
from shared import keys
from shared.schemas import IncomingMessage, encode_entry

CHAT_BASE = 700_000


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


def incoming(user: int, text: str) -> IncomingMessage:
    """``user``'s message as the ingress would write it to ``bot:incoming``."""
    return IncomingMessage(
        user_id=user,
        telegram_id=CHAT_BASE + user,
        chat_id=CHAT_BASE + user,
        message_id=1,
        text=text,
        update_id=1,
    )


async def write(redis: aioredis.Redis, user: int, text: str, timeline: Timeline) -> None:
    message = incoming(user, text)
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
                message = incoming(user, text)
                timeline.written[text] = time.monotonic()
                pipe.xadd(keys.incoming(keys.partition_of(user)), encode_entry(message))  # type: ignore[arg-type]
            await pipe.execute()
    return texts, started
