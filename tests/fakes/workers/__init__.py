"""Helpers for the fake worker-manager's tests: write what the bot writes, read what it reads."""

from __future__ import annotations

from typing import Any

import msgspec
import redis.asyncio as aioredis

from services.fakes.workers import FakeWorkerManager
from shared import keys
from shared.schemas import CreateWorkerCommand, POWorkerInput, WorkerConfig, encode_entry, new_id

USER = 7


def create_command(user_id: int = USER) -> CreateWorkerCommand:
    return CreateWorkerCommand(
        config=WorkerConfig(name=keys.po_worker_id(user_id), env_vars={"USER_ID": str(user_id)}),
        context={"role": "product_owner", "user_telegram_id": "100"},
    )


async def send_command(redis: aioredis.Redis, user_id: int = USER) -> CreateWorkerCommand:
    command = create_command(user_id)
    await redis.xadd(keys.WORKER_COMMANDS, encode_entry(command))  # type: ignore[arg-type]
    return command


async def send_input(redis: aioredis.Redis, text: str, user_id: int = USER) -> POWorkerInput:
    message = POWorkerInput(
        request_id=new_id(), user_id=user_id, telegram_id=100, chat_id=100, text=text
    )
    await redis.xadd(keys.po_input(user_id), encode_entry(message))  # type: ignore[arg-type]
    return message


async def entries(redis: aioredis.Redis, stream: str) -> list[dict[bytes, bytes]]:
    """The fields of every entry on ``stream``."""
    raw: Any = await redis.xrange(stream)  # the declared type is a union over protocols
    return [fields for _id, fields in raw]


async def outputs(redis: aioredis.Redis, user_id: int = USER) -> list[dict[str, Any]]:
    """The raw JSON objects on the user's output stream."""
    return [msgspec.json.decode(f[b"data"]) for f in await entries(redis, keys.po_output(user_id))]


def running(wm: FakeWorkerManager, user_id: int = USER) -> bool:
    return (keys.po_worker_id(user_id), "RUNNING") in wm.status_log
