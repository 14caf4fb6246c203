"""Relays run in the test's own event loop, against the fakes and a real Redis.

``start_relay()`` opens a real relay (its real Telegram client to the fake
Telegram over HTTP, real Redis, the fake worker-manager's echo POs) and runs
it as a task, as ``telegram-bot relay`` would. Tests that need a real crash (``kill -9``)
start processes instead (``start_service`` from ``tests.plugins.processes``).

``write_message`` plays the ingress: it adds an ``IncomingMessage`` to the
user's partition stream, exactly as the ingress does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import pytest
import redis.asyncio as aioredis

from services.fakes.telegram import FakeTelegram
from services.relay.app import Relay, open_relay
from services.relay.settings import RelaySettings
from shared import keys
from shared.schemas import IncomingMessage, encode_entry
from shared.settings import load

CHAT_BASE = 500_000
"""User ``u`` writes from the private chat (and Telegram id) ``CHAT_BASE + u``."""


def chat_of(user_id: int) -> int:
    return CHAT_BASE + user_id


def incoming_message(user_id: int, text: str) -> IncomingMessage:
    """What the ingress stores for a known user's private message."""
    return IncomingMessage(
        user_id=user_id,
        telegram_id=chat_of(user_id),
        chat_id=chat_of(user_id),
        message_id=1,
        text=text,
        update_id=1,
    )


async def write_message(redis: aioredis.Redis, user_id: int, text: str) -> str:
    """What the ingress does for a known user's message: the entry id."""
    stream = keys.incoming(keys.partition_of(user_id))
    message = encode_entry(incoming_message(user_id, text))
    entry_id: Any = await redis.xadd(stream, message)  # type: ignore[arg-type]
    return str(entry_id.decode())


async def answered(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, user_id: int, text: str
) -> None:
    """The user writes ``text``; returned once one more message has reached their chat."""
    chat_id = chat_of(user_id)
    count = len(fake_telegram.chat(chat_id).sent) + 1
    await write_message(redis, user_id, text)
    await fake_telegram.wait_for_messages(chat_id, count, timeout=10)


async def entries(redis: aioredis.Redis, stream: str) -> list[tuple[str, dict[bytes, bytes]]]:
    """Every entry of ``stream``: (id, fields)."""
    found: Any = await redis.xrange(stream)
    return [(raw_id.decode(), fields) for raw_id, fields in found]


@pytest.fixture
def relay_env(fake_telegram: FakeTelegram, redis_url: str, po_contract: str) -> dict[str, str]:
    """The relay's environment for this test; Telegram rates raised for volume."""
    return {
        "PO_CONTRACT": po_contract,
        "TELEGRAM_BOT_TOKEN": fake_telegram.token,
        "TELEGRAM_API_URL": fake_telegram.url,
        "REDIS_URL": redis_url,
        "LOG_FORMAT": "json",
        "TELEGRAM_RATE_GLOBAL_PER_S": "5000",
        "TELEGRAM_RATE_CHAT_PER_S": "1000",
    }


@dataclass
class RunningRelay:
    relay: Relay
    stop: asyncio.Event
    task: asyncio.Task[None]

    async def stopped(self, timeout: float = 10.0) -> None:
        """Stop it as SIGTERM would: drain, release the leases, leave."""
        self.stop.set()
        async with asyncio.timeout(timeout):
            await self.task


class StartRelay(Protocol):
    async def __call__(self, name: str = "relay", **env: str) -> RunningRelay: ...


@pytest.fixture
async def start_relay(relay_env: dict[str, str]) -> AsyncIterator[StartRelay]:
    running: list[RunningRelay] = []
    exits: list[asyncio.Future[None]] = []

    async def start(name: str = "relay", **env: str) -> RunningRelay:
        settings = load(RelaySettings, {**relay_env, "RELAY_NAME": name, **env})
        opened: asyncio.Future[RunningRelay] = asyncio.get_running_loop().create_future()
        stop = asyncio.Event()

        async def main() -> None:
            async with open_relay(settings) as relay:
                opened.set_result(RunningRelay(relay, stop, task))
                await relay.run(stop)

        task = asyncio.create_task(main(), name=f"test-relay-{name}")
        exits.append(task)
        handle = await opened
        running.append(handle)
        return handle

    yield start
    for handle in running:
        handle.stop.set()
    if exits:
        await asyncio.wait(exits, timeout=15)
    for task in exits:
        if not task.done():
            task.cancel()


async def take_over(
    first: RunningRelay, start_relay: StartRelay, user_id: int, name: str = "relay-b", **env: str
) -> RunningRelay:
    """Stop ``first`` as SIGTERM would, start ``name``: returned once it owns the user."""
    await first.stopped()
    second = await start_relay(name, **env)
    partition = keys.partition_of(user_id)
    await wait_until(lambda: second.relay.owns(partition))
    return second


async def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``predicate`` (state with no event to wait on, such as lease ownership)."""
    async with asyncio.timeout(timeout):
        while True:
            if predicate():
                return
            await asyncio.sleep(0.02)


async def wait_for_value(
    probe: Callable[[], Awaitable[object]], expect: object, timeout: float = 10.0
) -> None:
    """Poll ``await probe()`` until it equals ``expect`` (Redis state has no event to wait on)."""
    async with asyncio.timeout(timeout):
        while True:
            if await probe() == expect:
                return
            await asyncio.sleep(0.02)
