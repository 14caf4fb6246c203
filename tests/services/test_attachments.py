"""Files end to end: two webhook ingress replicas, a relay, the files process, the fake PO.

A user's photo, document, voice note and 3-photo album are posted to two
ingress replicas, as Telegram does behind a load balancer. What the PO got is
read from its input stream (the wire); each file is then fetched the way the
PO fetches it, through its signed link on the real ``files`` process, and
must be the bytes the user sent. The fake PO fetches them too, and its
replies (the first bytes' hashes) reach the chat.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from typing import Any

import aiohttp
import msgspec
import redis.asyncio as aioredis

from services.fakes.api import FakeApi
from services.fakes.redis_server import free_port
from services.fakes.telegram import FakeTelegram
from services.fakes.workers import FakeWorkerManager
from shared import keys
from shared.schemas import DATA_FIELD
from tests.plugins.processes import StartService

KNOWN = 1001
USER_ID = 7
STRANGER = 6666
SIGNING_KEY = "k" * 40
WEBHOOK_SECRET = "e2e-secret"
HASHED = 64 * 1024

_update_ids = itertools.count(9000)


def photo_bytes(n: int) -> bytes:
    return b"\xff\xd8\xff\xe0" + bytes([n]) * (70_000 + n)  # past the PO's 64 KiB hash


def webhook(port: int) -> dict[str, str]:
    return {
        "INGRESS_MODE": "webhook",
        "WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram/hook",
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "WEBHOOK_LISTEN": f"127.0.0.1:{port}",
    }


def update_with(
    fake_telegram: FakeTelegram, sender: int, kind: str, content: bytes, **fields: Any
) -> dict[str, Any]:
    """An update carrying a file the fake Telegram holds (so getFile and downloads serve it)."""
    stored = fake_telegram.files.add(content, kind=kind, file_name=fields.pop("file_name", None))
    media: Any = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                  "file_size": stored.size}  # fmt: skip
    if kind == "photo":
        media = [{**media, "width": 800, "height": 600}]
    elif kind == "document":
        media |= {"file_name": "spec.pdf", "mime_type": "application/pdf"}
    elif kind == "voice":
        media |= {"duration": 4, "mime_type": "audio/ogg"}
    update_id = next(_update_ids)
    message = {
        "message_id": update_id,
        "from": fake_telegram.user(sender),
        "chat": {"id": sender, "type": "private", "first_name": "U"},
        "date": int(time.time()),
        kind: media,
        **fields,
    }
    return {"update_id": update_id, "message": message}


async def post(http: aiohttp.ClientSession, port: int, update: dict[str, Any]) -> int:
    headers = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
    url = f"http://127.0.0.1:{port}/telegram/hook"
    async with http.post(url, data=msgspec.json.encode(update), headers=headers) as response:
        return response.status


async def po_inputs(redis: aioredis.Redis, user_id: int) -> list[dict[str, Any]]:
    entries: Any = await redis.xrange(keys.po_input(user_id))
    return [msgspec.json.decode(fields[DATA_FIELD.encode()]) for _id, fields in entries]


async def fetched(http: aiohttp.ClientSession, url: str) -> bytes:
    async with http.get(url) as response:
        assert response.status == 200, url
        return await response.read()


def head_hash(content: bytes) -> str:
    return hashlib.sha256(content[:HASHED]).hexdigest()[:12]


async def test_files_through_two_replicas_reach_the_po_in_order_and_fetch_as_sent(
    fake_telegram: FakeTelegram,
    fake_api: FakeApi,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_service: StartService,
) -> None:
    fake_api.add_user(KNOWN, user_id=USER_ID)
    fake_telegram.lift_flood_limits()
    files_port, first, second = free_port(), free_port(), free_port()
    shared = {
        "FILES_SIGNING_KEY": SIGNING_KEY,
        "FILES_PUBLIC_URL": f"http://127.0.0.1:{files_port}",
    }
    files = start_service("files", FILES_LISTEN=f"127.0.0.1:{files_port}", **shared)
    start_service("ingress", name="ingress-a", **webhook(first), **shared)
    start_service("ingress", name="ingress-b", **webhook(second), **shared)
    start_service("relay", ALBUM_WINDOW_MS="300", **shared)
    await fake_telegram.wait_for_call("setWebhook", count=2, timeout=30)
    await files.wait_for_event("files_started")
    photo, document_bytes, voice_bytes = photo_bytes(1), b"%PDF-1.7 spec " * 9000, b"OggS " * 99
    album = [photo_bytes(n) for n in (2, 3, 4)]
    updates = [
        update_with(fake_telegram, KNOWN, "photo", photo, caption="broken page"),
        update_with(fake_telegram, KNOWN, "document", document_bytes),
        update_with(fake_telegram, KNOWN, "voice", voice_bytes),
        *(
            update_with(fake_telegram, KNOWN, "photo", c, media_group_id="alb", **cap)
            for c, cap in zip(album, [{"caption": "three"}, {}, {}], strict=True)
        ),
    ]

    async with aiohttp.ClientSession() as http:
        for n, update in enumerate(updates):  # each in turn, alternating replicas
            assert await post(http, (first, second)[n % 2], update) == 200
        await fake_workers.wait_for(lambda: len(fake_workers.inputs) == 4, within=60)
        inputs = await po_inputs(redis, USER_ID)
        sent = [photo, document_bytes, voice_bytes, *album]
        links = [a["url"] for message in inputs for a in message["attachments"]]
        got = [await fetched(http, url) for url in links]

    assert [m["text"] for m in inputs] == ["broken page", "", "", "three"]
    assert [[a["kind"] for a in m["attachments"]] for m in inputs] == [
        ["photo"], ["document"], ["voice"], ["photo", "photo", "photo"],
    ]  # fmt: skip
    document, voice = inputs[1]["attachments"][0], inputs[2]["attachments"][0]
    assert (document["file_name"], document["mime_type"]) == ("spec.pdf", "application/pdf")
    assert (document["size"], voice["duration"]) == (len(document_bytes), 4)
    assert got == sent, "each link serves exactly the bytes the user sent"
    chat = fake_telegram.chat(KNOWN)
    await fake_telegram.wait_for(lambda: sum("sha256" in t for t in chat.texts) == 4, timeout=60)
    replies = "\n".join(chat.texts)
    assert all(head_hash(content) in replies for content in sent), "the PO fetched them too"
    assert await po_inputs(redis, USER_ID) == inputs, "no message twice"


async def test_a_strangers_photo_is_rejected_and_never_fetched(
    fake_telegram: FakeTelegram,
    fake_api: FakeApi,
    redis: aioredis.Redis,
    start_service: StartService,
) -> None:
    files_port, port = free_port(), free_port()
    shared = {
        "FILES_SIGNING_KEY": SIGNING_KEY,
        "FILES_PUBLIC_URL": f"http://127.0.0.1:{files_port}",
    }
    start_service("files", FILES_LISTEN=f"127.0.0.1:{files_port}", **shared)
    start_service("ingress", **webhook(port), **shared, ACCESS_REQUESTS="false")
    await fake_telegram.wait_for_call("setWebhook", timeout=30)
    update = update_with(fake_telegram, STRANGER, "photo", photo_bytes(9), caption="let me in")

    async with aiohttp.ClientSession() as http:
        assert await post(http, port, update) == 200

    rejection = await fake_telegram.wait_for_messages(STRANGER, 1, timeout=30)
    assert "Доступ запрещён" in rejection[0]["text"]
    assert fake_telegram.calls_to("getFile") == []
    assert fake_telegram.files.downloads == []
    assert [k async for k in redis.scan_iter("bot:incoming:*")] == []
