"""The ingress run in the test's own event loop, against the fakes and a real Redis.

``start_ingress()`` opens the real ``Ingress`` (real aiogram, real HTTP to
the fake Telegram and the fake API, real Redis) and runs it as a task, as
``telegram-bot ingress`` would, with a hand-moved clock for the auth cache:
cache expiry is tested by moving the clock, never by sleeping. ``webhook``
starts one in webhook mode, and ``post`` is Telegram delivering to it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from services.fakes.api import FakeApi
from services.fakes.redis_server import RedisServer, free_port
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
WEBHOOK_SECRET = "s3cret_-token"


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


async def the_message(redis: aioredis.Redis) -> IncomingMessage:
    """The one message queued for the PO."""
    (message,) = await queued(redis)
    return message


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


# --- files (attachments) ----------------------------------------------------------

FILES_KEY = "k" * 32
FILES_URL = "http://files.example.org:8081"
FILES_ON = {
    "FILES_SIGNING_KEY": FILES_KEY,
    "FILES_PUBLIC_URL": FILES_URL,
    # The fake stands for the cloud Bot API, whose limit it keeps.
    "FILES_DOWNLOAD_LIMIT_MB": "20",
}
"""Files passed on to the PO: the variables."""
JPEG = b"\xff\xd8\xff\xe0" + b"p" * 5000


@pytest.fixture
async def files_on(known_user: dict[str, Any], start_ingress: StartIngress) -> None:
    """A running ingress that passes files on (``FILES_ON``); ``known_user`` known."""
    await start_ingress(**FILES_ON)


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A Redis of this test's own, to take down and bring back on the same port."""
    with RedisServer() as server:
        yield server


# --- webhook mode -------------------------------------------------------------------


def webhook_env_on_a_free_port() -> dict[str, str]:
    """A webhook ingress's variables: a free port of its own, and ``WEBHOOK_SECRET``."""
    port = free_port()
    return {
        "INGRESS_MODE": "webhook",
        "WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram/hook",
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "WEBHOOK_LISTEN": f"127.0.0.1:{port}",
    }


@pytest.fixture
def webhook_env() -> dict[str, str]:
    return webhook_env_on_a_free_port()


@dataclass
class Webhook:
    url: str
    running: RunningIngress


@pytest.fixture
async def webhook(
    known_user: dict[str, Any], start_ingress: StartIngress, webhook_env: dict[str, str]
) -> Webhook:
    """A running webhook ingress (``known_user`` known to the API) and its URL."""
    return Webhook(webhook_env["WEBHOOK_URL"], await start_ingress(**webhook_env))


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def update_from(telegram_id: int, text: str, update_id: int = 1) -> dict[str, Any]:
    """A private text message, as Telegram would post it to the webhook."""
    private = {"id": telegram_id, "type": "private", "first_name": "A"}
    sender = {"id": telegram_id, "is_bot": False, "first_name": "A"}
    message = {"message_id": 1, "date": 0, "chat": private, "from": sender, "text": text}
    return {"update_id": update_id, "message": message}


async def post(
    http: aiohttp.ClientSession, url: str, body: bytes, secret: str | None = WEBHOOK_SECRET
) -> int:
    """Deliver ``body`` as Telegram does (``secret``: its header, None for none); the status."""
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    async with http.post(url, data=body, headers=headers) as response:
        return response.status


async def refused_while_redis_is_down(
    fake_telegram: FakeTelegram, own_redis: RedisServer, chat: int, text: str
) -> dict[str, Any]:
    """Kill ``own_redis``, then ``text`` from ``chat``: its update, once refused twice (503)."""
    own_redis.kill()
    update = fake_telegram.inject_message(chat, text)
    await fake_telegram.wait_for(
        lambda: len(fake_telegram.webhook_deliveries) >= 2, what="two refused deliveries"
    )
    return update
