"""Helpers for the fake API's tests: who is who in ``world``, and a plain GET."""

from __future__ import annotations

from typing import Any

import aiohttp

from services.fakes.api import FakeApi

ADMIN, ALICE, BOB = 1, 2, 3


async def get(
    http: aiohttp.ClientSession, api: FakeApi, path: str, telegram_id: int | None = None
) -> tuple[int, Any]:
    headers = {"X-Telegram-ID": str(telegram_id)} if telegram_id is not None else {}
    async with http.get(api.url + path, headers=headers) as response:
        body = await response.json() if response.content_type == "application/json" else None
        return response.status, body
