"""The fake PO and files: it describes what it got, fetched through each ``url``, in every
profile; ``demo file`` brings an image and a document back."""

from __future__ import annotations

import base64
from typing import Any

import msgspec
import pytest
import redis.asyncio as aioredis

from services.fakes.workers import FakeWorkerManager, Profile
from services.fakes.workers.files import DEMO_TEXT, HASHED_BYTES
from services.fakes.workers.wire import output_stream
from shared.attachments import Attachment, OutgoingAttachment
from tests.fakes.file_server import FileServer, head_hash
from tests.fakes.workers import USER, entries, running

pytestmark = pytest.mark.parametrize("po_contract", ["seed", "worker-streams"])

PNG_HEAD = b"\x89PNG\r\n\x1a\n"


async def started(wm: FakeWorkerManager) -> None:
    await wm.create(USER)
    await wm.wait_for(lambda: running(wm))


async def last_output(redis: aioredis.Redis, profile: Profile) -> dict[str, Any]:
    written = await entries(redis, output_stream(profile, USER))
    decoded: dict[str, Any] = msgspec.json.decode(written[-1][b"data"])
    return decoded


def reply_text(output: dict[str, Any]) -> str:
    return str(output.get("text") or output.get("content"))


async def test_files_are_described_by_kind_name_size_and_the_hash_of_what_was_fetched(
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    file_server: FileServer,
    po_contract: Profile,
) -> None:
    photo = bytes(range(256)) * 8
    report = b"%PDF-1.7 " + b"x" * (HASHED_BYTES + 5000)  # longer than what is hashed
    file_server.files |= {"p": photo, "r": report}
    await started(fake_workers)

    await fake_workers.send(
        USER,
        "look at this",
        attachments=[
            Attachment(kind="photo", url=file_server.url("p"), size=len(photo), width=64),
            Attachment(
                kind="document",
                url=file_server.url("r"),
                file_name="spec.pdf",
                mime_type="application/pdf",
                size=len(report),
            ),
        ],
    )
    await fake_workers.wait_for(lambda: len(fake_workers.outputs) == 1)

    text = reply_text(await last_output(redis, po_contract))
    first, second = text.splitlines()[-2:]
    assert first == f"1. photo «без имени», 2048 байт, sha256 первых 2048 байт: {head_hash(photo)}"
    assert second == (
        f"2. document «spec.pdf», {len(report)} байт, "
        f"sha256 первых {HASHED_BYTES} байт: {head_hash(report)}"
    )
    assert "«look at this»" in text
    assert file_server.fetched == ["p", "r"]


async def test_a_too_large_file_and_broken_links_are_described_and_the_po_keeps_answering(
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    file_server: FileServer,
    po_contract: Profile,
) -> None:
    file_server.files["big"] = b"never fetched"
    await started(fake_workers)

    # A caption: the wrapper rejects an entry with no ``content``, files or not.
    await fake_workers.send(
        USER,
        "four files",
        attachments=[
            {
                "kind": "document",
                "url": file_server.url("big"),
                "size": 25 << 20,
                "too_large": True,
            },
            {"kind": "voice", "url": file_server.url("gone"), "duration": 3},
            {"kind": "video", "url": "http://127.0.0.1:9/nothing-listens"},
            {"kind": "no such kind", "url": "x"},
        ],
    )
    await fake_workers.send(USER, "still there?")
    await fake_workers.wait_for(lambda: len(fake_workers.outputs) == 2)

    described, echoed = fake_workers.outputs
    lines = described.text.splitlines()[2:]
    assert lines[0] == (
        f"1. document «без имени», {25 << 20} байт: слишком большой, бот его не передаёт "
        "(too_large)"
    )
    assert lines[1] == "2. voice «без имени»: не удалось скачать (HTTP 404)"
    assert lines[2].startswith("3. video «без имени»: не удалось скачать (")
    assert lines[3] == "Не разобрал записей: 1."
    assert echoed.text == "echo: still there?"
    assert file_server.fetched == ["gone"]


async def test_demo_file_is_answered_with_text_a_png_and_a_markdown_document(
    fake_workers: FakeWorkerManager, redis: aioredis.Redis, po_contract: Profile
) -> None:
    await started(fake_workers)

    await fake_workers.send(USER, "demo file")
    await fake_workers.wait_for(lambda: len(fake_workers.outputs) == 1)

    output = await last_output(redis, po_contract)
    assert reply_text(output) == DEMO_TEXT
    image, report = msgspec.convert(output["attachments"], list[OutgoingAttachment])
    assert (image.kind, image.mime_type, image.file_name) == ("photo", "image/png", "demo.png")
    assert base64.b64decode(image.data or "").startswith(PNG_HEAD)
    assert (report.kind, report.file_name) == ("document", "report.md")
    assert base64.b64decode(report.data or "").decode().startswith("# ")
