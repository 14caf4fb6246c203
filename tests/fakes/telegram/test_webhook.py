"""The webhook: pushes carry the secret and are retried until 2xx; it excludes getUpdates."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramConflictError
from aiohttp import web

from services.fakes.telegram import FakeTelegram
from tests.fakes.telegram import PRIVATE


@dataclass
class WebhookReceiver:
    """A tiny webhook endpoint answering the given statuses in turn (then 200)."""

    statuses: list[int]
    requests: list[tuple[str | None, bytes]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        self.requests.append((secret, await request.read()))
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status)


@asynccontextmanager
async def webhook_receiver(statuses: list[int]) -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver(statuses)
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    receiver.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        yield receiver
    finally:
        await runner.cleanup()


async def test_webhook_push_carries_the_secret_and_is_retried_until_2xx(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    async with webhook_receiver([500, 502]) as receiver:
        assert await bot.set_webhook(receiver.url, secret_token="s3cret_-Token")
        update_id = fake_telegram.inject_message(PRIVATE, "via webhook")["update_id"]

        await fake_telegram.wait_for(lambda: any(d.ok for d in fake_telegram.webhook_deliveries))

    assert [d.status for d in fake_telegram.webhook_deliveries] == [500, 502, 200]
    assert [secret for secret, _ in receiver.requests] == ["s3cret_-Token"] * 3
    assert {json.loads(body)["update_id"] for _, body in receiver.requests} == {update_id}
    assert fake_telegram.pending_updates == []
    info = await bot.get_webhook_info()
    assert info.url == receiver.url
    assert info.pending_update_count == 0
    assert info.last_error_message == "Wrong response from the webhook: 502 Bad Gateway"


async def test_get_updates_while_webhook_is_set_is_a_conflict(bot: Bot) -> None:
    await bot.set_webhook("https://example.org/hook")

    with pytest.raises(TelegramConflictError) as raised:
        await bot.get_updates()

    assert "can't use getUpdates method while webhook is active" in raised.value.message
    await bot.delete_webhook()
    assert await bot.get_updates() == []


async def test_delete_webhook_can_drop_pending_updates(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.inject_message(PRIVATE, "stale")

    await bot.delete_webhook(drop_pending_updates=True)

    assert await bot.get_updates() == []


@pytest.mark.parametrize("secret", ["has space", "ünïcode", "x" * 257])
async def test_invalid_webhook_secret_is_rejected(bot: Bot, secret: str) -> None:
    with pytest.raises(TelegramBadRequest, match="secret token"):
        await bot.set_webhook("https://example.org/hook", secret_token=secret)
