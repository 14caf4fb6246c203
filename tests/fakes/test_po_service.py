"""The fake PO service's own messages: ``po:proactive`` entries as the platform writes them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
import redis.asyncio as aioredis

from services.fakes.po_service import FakePOService, as_text
from services.fakes.workers.files import DEMO_TEXT
from shared import keys
from shared.attachments import OutgoingAttachment
from tests.fakes.file_server import FileServer, head_hash

ALAN = 100004


@pytest.fixture
async def po_service(redis: aioredis.Redis) -> AsyncIterator[FakePOService]:
    async with FakePOService(redis, reminders={ALAN: 0.2}) as fake:
        yield fake


async def next_proactive(redis: aioredis.Redis, after: str = "0") -> tuple[str, dict[str, str]]:
    """The next ``po:proactive`` entry after ``after``, waiting for it (at most 10 s)."""
    reply: Any = await redis.xread({keys.PO_PROACTIVE: after}, count=1, block=10_000)
    assert reply, "no po:proactive entry within 10 s"
    raw_id, fields = reply[0][1][0]
    return raw_id.decode(), as_text(fields)


async def reading(redis: aioredis.Redis) -> None:
    """Wait until the fake waits in its blocking XREAD (it reads from where it started)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while True:
        clients: list[dict[str, Any]] = await redis.client_list()
        if any(c["cmd"] == "xread" and "b" in c["flags"] for c in clients):
            return
        assert loop.time() < deadline, clients
        await asyncio.sleep(0.01)


async def user_message(
    redis: aioredis.Redis, chat_id: int, text: str, request_id: str, **optional: str
) -> None:
    fields = {
        "type": "user_message",
        "text": text,
        "telegram_chat_id": str(chat_id),
        "request_id": request_id,
        "user_name": "",
        "timestamp": "2026-12-05T12:00:00",
        **optional,
    }
    await redis.xadd(keys.PO_INPUT, fields)  # type: ignore[arg-type]


async def test_a_message_of_its_own_is_one_entry_of_flat_string_fields(
    redis: aioredis.Redis, po_service: FakePOService
) -> None:
    entry_id = await po_service.proactive(42, "Задача готова", event="task_completed")

    assert await next_proactive(redis) == (
        entry_id,
        {"text": "Задача готова", "telegram_chat_id": "42", "event": "task_completed"},
    )
    assert po_service.proactive_sent == [entry_id]


async def test_a_chat_with_a_reminder_gets_one_after_the_answer_to_its_last_message(
    redis: aioredis.Redis, po_service: FakePOService
) -> None:
    await reading(redis)
    await user_message(redis, 7, "no reminder for me", "r-0")
    await user_message(redis, ALAN, "deploy the shop", "r-1")

    _, reminder = await next_proactive(redis)

    assert reminder["telegram_chat_id"] == str(ALAN)
    assert reminder["event"] == "reminder"
    assert reminder["text"].startswith("Напоминание:")
    assert "deploy the shop" in reminder["text"]
    assert po_service.answered == ["r-0", "r-1"]
    assert await redis.xlen(keys.PO_PROACTIVE) == 1


async def next_response(redis: aioredis.Redis, request_id: str) -> dict[str, str]:
    """The answer on ``po:response:{request_id}``, waiting for it (at most 10 s)."""
    reply: Any = await redis.xread({keys.po_response(request_id): "0"}, count=1, block=10_000)
    assert reply, f"no answer to {request_id} within 10 s"
    return as_text(reply[0][1][0][1])


async def test_a_message_with_files_is_answered_with_what_each_fetched_file_was(
    redis: aioredis.Redis, po_service: FakePOService, file_server: FileServer
) -> None:
    file_server.files["shot"] = b"\x89PNG fake screenshot" * 100
    attachments = [
        {"kind": "photo", "url": file_server.url("shot"), "size": 2000, "width": 800},
        {"kind": "document", "url": file_server.url("gone"), "file_name": "a.pdf"},
    ]
    await reading(redis)
    await user_message(redis, 7, "broken page", "r-1", attachments=json.dumps(attachments))

    answer = await next_response(redis, "r-1")

    lines = answer["text"].splitlines()
    assert lines[0] == "Получил файлов: 2."
    assert lines[2].startswith("1. photo «без имени», 2000 байт, sha256")
    assert lines[2].endswith(head_hash(file_server.files["shot"]))
    assert lines[3] == "2. document «a.pdf»: не удалось скачать (HTTP 404)"
    assert "attachments" not in answer
    assert file_server.fetched == ["shot", "gone"]


async def test_demo_file_is_answered_with_an_image_and_a_document_in_a_flat_field(
    redis: aioredis.Redis, po_service: FakePOService
) -> None:
    await reading(redis)
    await user_message(redis, 7, "demo file", "r-2")

    answer = await next_response(redis, "r-2")

    assert answer["text"] == DEMO_TEXT
    files = msgspec.json.decode(answer["attachments"], type=list[OutgoingAttachment])
    assert [(f.kind, f.file_name) for f in files] == [
        ("photo", "demo.png"),
        ("document", "report.md"),
    ]
    assert all(f.data for f in files)
