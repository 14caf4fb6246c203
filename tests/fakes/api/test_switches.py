"""The fake API's switches, flipped by a test at any time."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from services.fakes.api import FakeApi
from tests.fakes.api import ADMIN, ALICE, get


async def test_an_ignored_users_query_returns_every_user(
    world: FakeApi, http: aiohttp.ClientSession
) -> None:
    world.users_query_ignored = True

    status, answer = await get(http, world, "/api/users?telegram_id=999")

    assert (status, [u["telegram_id"] for u in answer]) == (200, [ADMIN, ALICE])


async def test_fail_with_answers_that_status_to_everything(
    world: FakeApi, http: aiohttp.ClientSession
) -> None:
    world.fail_with = 502

    assert (await get(http, world, "/api/users"))[0] == 502
    assert (await get(http, world, "/api/nothing-here"))[0] == 502


async def test_down_is_a_connection_error_and_up_again_answers(
    world: FakeApi, http: aiohttp.ClientSession
) -> None:
    world.down = True
    with pytest.raises(aiohttp.ClientConnectionError):
        await get(http, world, "/api/users/")

    world.down = False
    assert (await get(http, world, "/api/users/"))[0] == 200
    assert world.requests[0].dropped
    assert not world.requests[-1].dropped


async def test_slow_delays_the_answer_past_a_client_timeout(
    world: FakeApi, http: aiohttp.ClientSession
) -> None:
    world.slow = 30

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await get(http, world, "/api/users/")


async def test_delay_next_holds_up_only_the_next_request_to_that_path(
    world: FakeApi, http: aiohttp.ClientSession
) -> None:
    world.delay_next("/api/users/", 30)
    held = asyncio.create_task(get(http, world, "/api/users/"))
    await world.wait_for_request("/api/users/")

    # The next one to the same path, and one to another path, are answered at once.
    async with asyncio.timeout(5):
        assert (await get(http, world, "/api/users/"))[0] == 200
        assert (await get(http, world, "/api/servers/"))[0] == 200
    assert not held.done()
    held.cancel()
    await asyncio.gather(held, return_exceptions=True)


async def test_a_required_internal_key_is_checked(
    world: FakeApi, http: aiohttp.ClientSession
) -> None:
    world.require_internal_key = "k3y"

    assert (await get(http, world, "/api/users/"))[0] == 401
    async with http.get(world.url + "/api/users/", headers={"X-Internal-Key": "k3y"}) as response:
        assert response.status == 200


async def test_a_canned_answer_replaces_one_path_after_its_redirect(
    world: FakeApi, http: aiohttp.ClientSession
) -> None:
    world.respond_with("/api/projects", b"not json", status=200, content_type="text/plain")

    async with http.get(world.url + "/api/projects") as response:
        assert (response.status, await response.read()) == (200, b"not json")
    assert [r.path for r in world.requests] == ["/api/projects", "/api/projects/"]
