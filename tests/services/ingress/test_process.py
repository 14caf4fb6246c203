"""The ingress as a real process: what only a process can show (kill -9, exit status).

aiogram takes seconds of CPU to import in a fresh process, so this file
keeps to the few tests that need one; the rest run in the test's loop.
"""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from services.fakes.redis_server import RedisServer
from services.fakes.telegram import FakeTelegram, Params, WebhookConfig, get_updates
from services.ingress.intake import dedupe_key
from services.ingress.polling import EXIT_CONFLICT
from tests.plugins.processes import StartService
from tests.processes import ServiceProcess
from tests.services.ingress.conftest import KNOWN, StartIngress, handled, queued

STARTUP_S = 30.0


async def exit_status(process: ServiceProcess, timeout: float = STARTUP_S) -> int:
    """The process's exit status, once it has exited (polled, like its log)."""
    async with asyncio.timeout(timeout):
        while process.returncode is None:  # noqa: ASYNC110 (a child exit is no asyncio event)
            await asyncio.sleep(0.05)
    return process.returncode


@pytest.mark.usefixtures("known_user")
async def test_an_ingress_killed_before_storing_an_update_forwards_it_exactly_once_after_restart(
    fake_telegram: FakeTelegram,
    start_service: StartService,
    start_ingress: StartIngress,
    own_redis: RedisServer,
) -> None:
    first = start_service("ingress", REDIS_URL=own_redis.url)
    await fake_telegram.wait_for_poller(timeout=STARTUP_S)

    # Redis goes away: the update is received and handled but cannot be stored,
    # so the ingress holds it (retrying) and has not confirmed it.
    own_redis.kill()
    update = fake_telegram.inject_message(KNOWN, "do not lose me")
    await first.wait_for_event("intake_retrying", timeout=STARTUP_S)
    first.kill()
    assert update in fake_telegram.pending_updates

    # The restart runs in this test's loop: only the kill needed a real process.
    own_redis.start()
    await start_ingress(REDIS_URL=own_redis.url)
    await handled(fake_telegram, update)

    client = aioredis.Redis.from_url(own_redis.url)
    try:
        (message,) = await queued(client)
        assert (message.text, message.update_id) == ("do not lose me", update["update_id"])
        assert await client.exists(dedupe_key(update["update_id"]))
    finally:
        await client.aclose()


@pytest.mark.usefixtures("known_user")
async def test_an_ingress_killed_after_storing_but_before_confirming_forwards_once_after_restart(
    fake_telegram: FakeTelegram,
    redis: aioredis.Redis,
    start_service: StartService,
    start_ingress: StartIngress,
) -> None:
    # The getUpdates that would confirm the first batch (the first with an offset) is
    # held unanswered and unapplied: the kill lands after the store, before the confirmation.
    confirming, released = asyncio.Event(), asyncio.Event()

    async def hold_the_first_confirmation(fake: FakeTelegram, params: Params) -> object:
        if params.integer("offset") is not None and not confirming.is_set():
            confirming.set()
            await released.wait()
            return []  # its caller is dead by then
        return await get_updates(fake, params)

    fake_telegram.add_method("getUpdates", hold_the_first_confirmation)
    try:
        first = start_service("ingress")
        await fake_telegram.wait_for_poller(timeout=STARTUP_S)
        update = fake_telegram.inject_message(KNOWN, "stored, not confirmed")
        await asyncio.wait_for(confirming.wait(), STARTUP_S)
        assert await redis.exists(dedupe_key(update["update_id"]))
        first.kill()
        assert update in fake_telegram.pending_updates

        # Telegram delivers it again to the restarted ingress, which confirms it this time.
        await start_ingress()
        await handled(fake_telegram, update)
    finally:
        released.set()

    (message,) = await queued(redis)
    assert (message.text, message.update_id) == ("stored, not confirmed", update["update_id"])


async def test_a_409_conflict_stops_a_polling_ingress_with_a_clear_log_line(
    fake_telegram: FakeTelegram,
    start_service: StartService,
) -> None:
    fake_telegram.set_webhook(WebhookConfig("https://elsewhere.example.org/hook"))
    ingress = start_service("ingress")

    event = await ingress.wait_for_event("polling_conflict", timeout=STARTUP_S)

    assert await exit_status(ingress) == EXIT_CONFLICT
    assert event["level"] == "error"
    assert "webhook" in event["hint"]
    # The webhook of the other deployment is left alone.
    assert fake_telegram.webhook is not None
    assert fake_telegram.calls_to("deleteWebhook") == []
