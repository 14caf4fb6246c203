"""A user's files in the PO input (issue 16), in each profile's place for them.

The ingress's side (reading Telegram's files, signing links) is tested with
the ingress; here the entries are written to the partition stream as the
ingress writes them, and the PO input is read as the PO would read it.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
import redis.asyncio as aioredis

from services.relay import keyspace
from services.relay.contracts.po_service import INPUT_STREAM
from shared import keys
from shared.attachments import Attachment
from shared.schemas import IncomingMessage, encode_entry
from tests.services.relay.conftest import (
    StartRelay,
    entries,
    incoming_message,
    wait_for_value,
    write_message,
)

USER = 27
PARTITION = keys.partition_of(USER)
PHOTO = Attachment(
    kind="photo", url="https://files.test/f/1?sig=a", size=5120, width=800, height=600
)
DOCUMENT = Attachment(
    kind="document",
    url="https://files.test/f/2?sig=b",
    file_name="spec.pdf",
    mime_type="application/pdf",
    size=81_920,
)
AS_JSON = [
    {"kind": "photo", "url": PHOTO.url, "size": 5120, "width": 800, "height": 600},
    {
        "kind": "document",
        "url": DOCUMENT.url,
        "file_name": "spec.pdf",
        "mime_type": "application/pdf",
        "size": 81_920,
    },
]
"""What the PO gets: the fields Telegram gave, nothing for the others."""


@pytest.fixture(params=["seed", "worker-streams", "po-service"])
def po_contract(request: pytest.FixtureRequest) -> str:
    profile: str = request.param
    return profile


def message_with_files(user_id: int, caption: str, files: list[Attachment]) -> IncomingMessage:
    return msgspec.structs.replace(incoming_message(user_id, caption), attachments=files)


async def write_entry(redis: aioredis.Redis, message: IncomingMessage) -> str:
    raw: Any = await redis.xadd(keys.incoming(PARTITION), encode_entry(message))  # type: ignore[arg-type]
    return str(raw.decode())


async def forwarded(redis: aioredis.Redis) -> str:
    value: Any = await redis.get(keyspace.forwarded(PARTITION))
    return value.decode() if value else ""


async def po_input(redis: aioredis.Redis, profile: str) -> list[dict[str, Any]]:
    """The user's PO input entries as the PO reads them: the ``data`` JSON, or flat fields."""
    if profile == "po-service":
        found = await entries(redis, INPUT_STREAM)
        return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in found]
    stream = keys.po_input(USER) if profile == "seed" else "worker:po-27:input"
    return [msgspec.json.decode(fields[b"data"]) for _, fields in await entries(redis, stream)]


def files_of(entry: dict[str, Any], profile: str) -> object:
    """The attachments where the profile carries them (po-service: a flat JSON string)."""
    if profile == "po-service":
        return json.loads(entry["attachments"]) if "attachments" in entry else None
    return entry.get("attachments")


def caption_of(entry: dict[str, Any], profile: str) -> object:
    return entry["content"] if profile == "worker-streams" else entry["text"]


async def test_a_message_with_files_reaches_the_po_with_its_attachments_and_caption(
    redis: aioredis.Redis, start_relay: StartRelay, po_contract: str
) -> None:
    await start_relay()

    entry_id = await write_entry(redis, message_with_files(USER, "see", [PHOTO, DOCUMENT]))
    await wait_for_value(lambda: forwarded(redis), entry_id)

    [entry] = await po_input(redis, po_contract)
    assert files_of(entry, po_contract) == AS_JSON
    assert caption_of(entry, po_contract) == "see"


async def test_a_message_without_files_carries_no_attachments_field(
    redis: aioredis.Redis, start_relay: StartRelay, po_contract: str
) -> None:
    await start_relay()

    entry_id = await write_message(redis, USER, "plain")
    await wait_for_value(lambda: forwarded(redis), entry_id)

    [entry] = await po_input(redis, po_contract)
    assert "attachments" not in entry
    assert caption_of(entry, po_contract) == "plain"


async def test_files_without_a_caption_reach_the_po_with_an_empty_text_or_their_links_as_content(
    redis: aioredis.Redis, start_relay: StartRelay, po_contract: str
) -> None:
    await start_relay()

    entry_id = await write_entry(redis, message_with_files(USER, "", [DOCUMENT]))
    await wait_for_value(lambda: forwarded(redis), entry_id)

    [entry] = await po_input(redis, po_contract)
    assert files_of(entry, po_contract) == AS_JSON[1:]
    # The wrapper rejects an empty prompt: there, ``content`` names the file and its link.
    expected = f"[document spec.pdf] {DOCUMENT.url}" if po_contract == "worker-streams" else ""
    assert caption_of(entry, po_contract) == expected


async def test_an_entry_with_malformed_attachments_is_dead_lettered_and_the_next_forwarded(
    redis: aioredis.Redis, start_relay: StartRelay, po_contract: str
) -> None:
    await start_relay()
    bad = msgspec.to_builtins(incoming_message(USER, "broken"))
    bad["attachments"] = [{"kind": "sticker", "url": 7}]
    await redis.xadd(keys.incoming(PARTITION), {"data": json.dumps(bad)})

    entry_id = await write_message(redis, USER, "next")
    await wait_for_value(lambda: forwarded(redis), entry_id)

    [(_, letter)] = await entries(redis, keys.dead_letter(keys.incoming(PARTITION)))
    assert json.loads(letter[b"data"])["reason"] == "malformed"
    assert [caption_of(e, po_contract) for e in await po_input(redis, po_contract)] == ["next"]
