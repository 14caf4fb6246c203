"""Bad input: each one is logged once, answered so it is not retried, and the next is handled.

Logs are captured with ``structlog.testing.capture_logs`` around the one
delivery of the bad input (a webhook POST answered, or a polled batch
confirmed), so "once" counts every event the ingress logged meanwhile.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import aiohttp
import msgspec
import pytest
import redis.asyncio as aioredis
import structlog

from services.fakes.telegram import FakeTelegram
from tests.services.ingress.conftest import (
    KNOWN,
    StartIngress,
    Webhook,
    handled,
    post,
    queued,
    update_from,
)

LogEvents = list[MutableMapping[str, Any]]


async def post_logged(http: aiohttp.ClientSession, url: str, body: bytes) -> tuple[int, LogEvents]:
    """POST ``body``; its status and every event logged until it was answered."""
    with structlog.testing.capture_logs() as logs:
        status = await post(http, url, body)
    # The command menus are set in the background meanwhile (one per language): not the update's.
    return status, [event for event in logs if not event["event"].startswith("command_menu")]


MALFORMED = {"update_id": 5, "message": {"message_id": "x", "chat": "nowhere"}}
UNKNOWN_TYPE = {"update_id": 6, "future_update": {"from": {"id": KNOWN}, "what": "new"}}


@pytest.mark.parametrize(
    ("update", "logged"),
    [(MALFORMED, ("update_malformed", 5)), (UNKNOWN_TYPE, ("update_ignored", 6))],
    ids=["malformed", "unknown-type"],
)
async def test_an_update_the_ingress_cannot_handle_is_logged_once_as_what_it_is(
    webhook: Webhook, http: aiohttp.ClientSession, update: dict[str, Any], logged: tuple[str, int]
) -> None:
    status, logs = await post_logged(http, webhook.url, msgspec.json.encode(update))

    assert status == 200
    (event,) = logs
    assert (event["event"], event["update_id"]) == logged


@pytest.mark.parametrize(
    "body",
    [b"{not json at all", b"\xff\xfe\x00garbage", b"[1, 2, 3]", b'"a string"', b""],
    ids=["not-json", "not-utf8", "not-an-object", "a-string", "empty"],
)
async def test_an_undecodable_webhook_body_is_logged_once(
    webhook: Webhook, http: aiohttp.ClientSession, body: bytes
) -> None:
    status, logs = await post_logged(http, webhook.url, body)

    assert status == 200
    (event,) = logs
    assert (event["event"], event["size"]) == ("webhook_bad_body", len(body))


async def test_each_malformed_update_in_a_polled_batch_is_logged_once_and_the_rest_handled(
    fake_telegram: FakeTelegram,
    redis: aioredis.Redis,
    known_user: dict[str, Any],
    start_ingress: StartIngress,
) -> None:
    await start_ingress()

    with structlog.testing.capture_logs() as logs:
        # No await in between: the poller gets the five as one batch.
        fake_telegram.inject_message(KNOWN, "first")
        bad = [
            fake_telegram.inject_update({"message": {"message_id": "x"}}),
            fake_telegram.inject_update({"message": {"text": ["not", "a", "string"]}}),
        ]
        fake_telegram.inject_message(KNOWN, "between")
        last = fake_telegram.inject_update({"edited_message": 42})
        await handled(fake_telegram, last)

    malformed = [e["update_id"] for e in logs if e["event"] == "update_malformed"]
    assert malformed == [bad[0]["update_id"], bad[1]["update_id"], last["update_id"]]
    assert [m.text for m in await queued(redis)] == ["first", "between"]


# --- big bodies -------------------------------------------------------------------

BIG = 100 * 1024


async def test_a_100_kb_update_is_answered_200_and_the_next_one_is_still_handled(
    webhook: Webhook, http: aiohttp.ClientSession, redis: aioredis.Redis
) -> None:
    big = update_from(KNOWN, "Щ" * (BIG // 2), update_id=70)
    body = msgspec.json.encode(big)
    assert len(body) > BIG

    status = await post(http, webhook.url, body)
    after = await post(http, webhook.url, msgspec.json.encode(update_from(KNOWN, "next", 71)))

    # Longer than Telegram allows a user, but whole and not ours to judge: the PO gets it.
    assert (status, after) == (200, 200)
    assert [len(m.text) for m in await queued(redis)] == [BIG // 2, 4]


async def test_100_kb_of_garbage_is_logged_once_answered_200_and_the_next_update_handled(
    webhook: Webhook, http: aiohttp.ClientSession, redis: aioredis.Redis
) -> None:
    garbage = b'{"update_id": 80, "message": {"text": "' + b"\x00\xff{" * (BIG // 3)

    status, logs = await post_logged(http, webhook.url, garbage)
    after = await post(http, webhook.url, msgspec.json.encode(update_from(KNOWN, "next", 81)))

    assert (status, after) == (200, 200)
    assert [e["event"] for e in logs] == ["webhook_bad_body"]
    assert [m.text for m in await queued(redis)] == ["next"]
