"""Albums across a relay's ``kill -9``: the next owner sends the album once, no part on its own.

Real relay processes against a real Redis; the PO input is read straight
from its stream (``seed``: the user's ``data`` JSON; ``po-service``: the
flat ``po:input`` entries of the user's chat).
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
from tests.plugins.processes import StartService
from tests.processes import ServiceProcess
from tests.services.relay.conftest import chat_of, entries, wait_for_value, write_message
from tests.services.relay.test_albums import USER, album_part, photo, write_part, write_together

PARTITION = keys.partition_of(USER)
TAKEOVER_S = 30.0
"""Ample for a lease to expire (5 s) and the next tick to take it."""


def relay(start_service: StartService, name: str, profile: str, window_ms: int) -> ServiceProcess:
    return start_service(
        "relay", name=name, RELAY_NAME=name, PO_CONTRACT=profile, ALBUM_WINDOW_MS=str(window_ms)
    )


async def forwarded(redis: aioredis.Redis) -> str:
    value: Any = await redis.get(keyspace.forwarded(PARTITION))
    return value.decode() if value else ""


async def po_inputs(redis: aioredis.Redis, profile: str) -> list[tuple[str, list[str]]]:
    """The user's PO input entries: (text, attachment urls), in order."""
    found: list[tuple[str, list[str]]] = []
    if profile == "po-service":
        for _, fields in await entries(redis, INPUT_STREAM):
            if fields[b"telegram_chat_id"] == str(chat_of(USER)).encode():
                files = json.loads(fields.get(b"attachments", b"[]"))
                found.append((fields[b"text"].decode(), [f["url"] for f in files]))
        return found
    for _, fields in await entries(redis, keys.po_input(USER)):
        data = msgspec.json.decode(fields[b"data"])
        found.append((data["text"], [f["url"] for f in data.get("attachments", [])]))
    return found


ALBUM = ("three", [photo(n).url for n in (1, 2, 3)])


async def test_a_relay_killed_while_gathering_an_album_leaves_it_to_the_next_owner_whole(
    redis: aioredis.Redis, start_service: StartService
) -> None:
    victim = relay(start_service, "relay-victim", "seed", window_ms=60_000)
    await write_part(redis, album_part(USER, 1, "three"))
    await write_part(redis, album_part(USER, 2))
    await victim.wait_for_event("album_waiting", timeout=TAKEOVER_S)
    victim.kill()
    await write_part(redis, album_part(USER, 3))

    relay(start_service, "relay-next", "seed", window_ms=200)
    after = await write_message(redis, USER, "after")
    await wait_for_value(lambda: forwarded(redis), after, timeout=TAKEOVER_S)

    assert await po_inputs(redis, "seed") == [ALBUM, ("after", [])]


@pytest.mark.parametrize("profile", ["seed", "po-service"])
async def test_a_relay_killed_just_after_forwarding_an_album_has_its_parts_skipped_by_the_next(
    redis: aioredis.Redis, start_service: StartService, profile: str
) -> None:
    victim = relay(start_service, "relay-victim", profile, window_ms=200)
    parts = [album_part(USER, 1, "three"), album_part(USER, 2), album_part(USER, 3)]
    first, _, last = await write_together(redis, parts)
    await wait_for_value(lambda: forwarded(redis), last, timeout=TAKEOVER_S)
    victim.kill()
    # The victim skipped the later parts in the moments after the album's forward;
    # a kill in between leaves exactly what the forwarding script wrote: the
    # position on the first part, the parts it took recorded beside it.
    await redis.set(keyspace.forwarded(PARTITION), first)

    relay(start_service, "relay-next", profile, window_ms=200)
    after = await write_message(redis, USER, "after")
    await wait_for_value(lambda: forwarded(redis), after, timeout=TAKEOVER_S)

    assert await po_inputs(redis, profile) == [ALBUM, ("after", [])]
