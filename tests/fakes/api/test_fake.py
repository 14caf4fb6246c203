"""The fake API records every request, can be awaited, and stops fast."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from services.fakes.api import FakeApi
from tests.fakes.api import ALICE, get


async def test_a_slow_answer_in_flight_does_not_hold_up_stopping() -> None:
    api = FakeApi(slow=30)
    await api.start()
    async with aiohttp.ClientSession() as http:
        request = asyncio.create_task(get(http, api, "/api/users/"))
        await api.wait_for_request("/api/users/")

        started = time.monotonic()
        await api.stop()

        assert time.monotonic() - started < 2
        request.cancel()
        await asyncio.gather(request, return_exceptions=True)


async def test_every_request_is_recorded_with_method_path_query_and_headers(
    world: FakeApi, http: aiohttp.ClientSession
) -> None:
    await get(http, world, "/api/tasks/?status=running", ALICE)

    (request,) = world.requests
    assert (request.method, request.path, request.query) == (
        "GET",
        "/api/tasks/",
        {"status": "running"},
    )
    assert request.headers["x-telegram-id"] == str(ALICE)


async def test_a_request_can_be_awaited_without_sleeping(
    world: FakeApi, http: aiohttp.ClientSession
) -> None:
    waiting = asyncio.create_task(world.wait_for_request("/api/projects/"))
    await get(http, world, "/api/projects", ALICE)

    request = await waiting

    assert request.headers["X-Telegram-ID"] == str(ALICE)


async def test_waiting_in_vain_fails_fast(world: FakeApi) -> None:
    with pytest.raises(TimeoutError):
        await world.wait_for_request("/api/servers/", within=0.05)
