"""The ingress run in the test's own event loop, against the fakes and a real Redis.

``start_ingress()`` opens the real ``Ingress`` (real aiogram, real HTTP to
the fake Telegram and the fake API, real Redis) and runs it as a task, as
``telegram-bot ingress`` would, with a hand-moved clock for the auth cache:
cache expiry is tested by moving the clock, never by sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import redis.asyncio as aioredis

from services.fakes.api import FakeApi
from services.fakes.telegram import FakeTelegram, ManualClock
from services.ingress.app import Ingress
from services.ingress.settings import IngressSettings
from shared import keys
from shared.schemas import IncomingMessage, decode_entry
from shared.settings import load
from tests.plugins.telegram import make_bot

KNOWN = 1001
"""A private chat (and Telegram user) the fake API knows, as API user 7."""
KNOWN_USER_ID = 7
ADMIN = 2002
STRANGER = 666


@dataclass
class RunningIngress:
    ingress: Ingress
    clock: ManualClock
    task: asyncio.Task[int]
    stop: asyncio.Event

    async def finish(self) -> int:
        """SIGTERM, in effect: stop and return the exit status."""
        self.stop.set()
        return await asyncio.wait_for(self.task, 10)


StartIngress = Callable[..., Awaitable[RunningIngress]]

_running: list[RunningIngress] = []
"""The ingresses the current test started: ``handled`` waits for their answers."""


def ingress_settings(
    fake_telegram: FakeTelegram, fake_api: FakeApi, redis_url: str, **overrides: str
) -> IngressSettings:
    """Settings as the environment would give them (``overrides`` are variables)."""
    env = {
        "TELEGRAM_BOT_TOKEN": fake_telegram.token,
        "TELEGRAM_API_URL": fake_telegram.url,
        "API_URL": fake_api.url,
        "REDIS_URL": redis_url,
        "POLLING_TIMEOUT_S": "1",
        **overrides,
    }
    return load(IngressSettings, env)


@pytest.fixture
async def start_ingress(
    fake_telegram: FakeTelegram, fake_api: FakeApi, redis_url: str
) -> AsyncIterator[StartIngress]:
    async with contextlib.AsyncExitStack() as stack:
        running = _running
        running.clear()

        async def start(**overrides: str) -> RunningIngress:
            settings = ingress_settings(fake_telegram, fake_api, redis_url, **overrides)
            bot = make_bot(fake_telegram)
            stack.push_async_callback(bot.session.close)
            clock = ManualClock()
            ingress = await stack.enter_async_context(Ingress.open(settings, bot=bot, clock=clock))
            stop = asyncio.Event()
            task = asyncio.create_task(ingress.run(stop), name="ingress")
            handle = RunningIngress(ingress, clock, task, stop)
            running.append(handle)
            if settings.ingress_mode == "polling":
                await fake_telegram.wait_for_poller()
            else:
                await fake_telegram.wait_for_call("setWebhook")
            return handle

        yield start
        running_now = list(running)
        running.clear()
        for handle in running_now:
            if not handle.task.done():
                await handle.finish()
            elif not handle.task.cancelled() and (exc := handle.task.exception()):
                raise exc


@pytest.fixture
def known_user(fake_api: FakeApi) -> dict[str, Any]:
    return fake_api.add_user(KNOWN, username="alice", user_id=KNOWN_USER_ID)


async def queued(redis: aioredis.Redis) -> list[IncomingMessage]:
    """Every chat message the ingress stored for the relays, in the order stored.

    Each is checked to sit in its user's partition stream.
    """
    found: list[tuple[bytes, IncomingMessage]] = []
    for partition in range(keys.PARTITIONS):
        stream = keys.incoming(partition)
        entries: list[tuple[bytes, dict[bytes, bytes]]] = await redis.xrange(stream)  # type: ignore[assignment]
        for entry_id, fields in entries:
            message = decode_entry(fields, IncomingMessage)
            assert keys.partition_of(message.user_id) == partition, f"{message} in {stream}"
            found.append((entry_id, message))
    # Entry ids are Redis server times: their order across streams is the order stored.
    return [message for _id, message in sorted(found, key=lambda item: _entry_key(item[0]))]


def _entry_key(entry_id: bytes) -> tuple[int, int]:
    millis, _, seq = entry_id.partition(b"-")
    return int(millis), int(seq)


async def handled(fake_telegram: FakeTelegram, update: dict[str, Any]) -> None:
    """Wait until ``update`` is confirmed (handled, stored if a chat message) and answered."""
    update_id = update["update_id"]
    await fake_telegram.wait_for(
        lambda: all(u["update_id"] != update_id for u in fake_telegram.pending_updates),
        what=f"update {update_id} confirmed",
    )
    # Answers go out after the update is confirmed, in the background.
    for handle in _running:
        await asyncio.wait_for(handle.ingress.courier.join(), 10)
