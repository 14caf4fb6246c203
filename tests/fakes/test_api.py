"""The fake backend API's own behaviours, the ones other tests and the sandbox rely on."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from services.fakes.api import FakeApi, seed_demo

ADMIN, ALICE, BOB = 1, 2, 3


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def world(fake_api: FakeApi) -> FakeApi:
    fake_api.add_user(ADMIN, is_admin=True)
    fake_api.add_user(ALICE, username="alice")
    fake_api.add_project(ALICE, "alice-shop")
    fake_api.add_project(BOB, "bob-blog")
    fake_api.add_server("srv-1")
    fake_api.add_task(ALICE, status="running")
    fake_api.add_task(ALICE, status="failed")
    return fake_api


async def get(
    http: aiohttp.ClientSession, api: FakeApi, path: str, telegram_id: int | None = None
) -> tuple[int, Any]:
    headers = {"X-Telegram-ID": str(telegram_id)} if telegram_id is not None else {}
    async with http.get(api.url + path, headers=headers) as response:
        body = await response.json() if response.content_type == "application/json" else None
        return response.status, body


async def test_collection_paths_answer_307_to_the_slash_form_with_the_query_kept(
    world: FakeApi, http: aiohttp.ClientSession
) -> None:
    for path in ("/api/users", "/api/projects", "/api/servers", "/api/tasks"):
        async with http.get(world.url + path + "?a=1&b=2", allow_redirects=False) as response:
            assert response.status == 307
            assert response.headers["Location"] == f"{world.url}{path}/?a=1&b=2"


async def test_projects_are_scoped_by_the_telegram_id_header(
    world: FakeApi, http: aiohttp.ClientSession
) -> None:
    _, alice = await get(http, world, "/api/projects", ALICE)
    _, everyone = await get(http, world, "/api/projects")

    assert [p["name"] for p in alice] == ["alice-shop"]
    assert sorted(p["name"] for p in everyone) == ["alice-shop", "bob-blog"]
    assert all("owner_id" not in p for p in everyone)


async def test_one_project_is_found_by_id_only_by_whoever_sees_it(
    world: FakeApi, http: aiohttp.ClientSession
) -> None:
    project_id = world.projects[ALICE][0]["id"]

    assert (await get(http, world, f"/api/projects/{project_id}", ALICE))[0] == 200
    assert (await get(http, world, f"/api/projects/{project_id}", BOB))[0] == 404


async def test_servers_are_403_with_a_detail_for_non_admins_and_unknown_ids(
    world: FakeApi, http: aiohttp.ClientSession
) -> None:
    assert await get(http, world, "/api/servers", ALICE) == (
        403,
        {"detail": "Admin access required"},
    )
    assert (await get(http, world, "/api/servers", 999))[0] == 403
    status, servers = await get(http, world, "/api/servers", ADMIN)
    assert (status, [s["handle"] for s in servers]) == (200, ["srv-1"])
    assert "id" not in servers[0]


async def test_tasks_are_filtered_by_status(world: FakeApi, http: aiohttp.ClientSession) -> None:
    _, running = await get(http, world, "/api/tasks?status=running", ALICE)
    _, all_tasks = await get(http, world, "/api/tasks", ALICE)

    assert [t["status"] for t in running] == ["running"]
    assert sorted(t["status"] for t in all_tasks) == ["failed", "running"]


async def test_the_users_query_answers_a_list_an_object_or_404(
    world: FakeApi, http: aiohttp.ClientSession
) -> None:
    status, answer = await get(http, world, f"/api/users?telegram_id={ALICE}")
    assert (status, [u["telegram_id"] for u in answer]) == (200, [ALICE])

    world.users_as_object = True
    assert (await get(http, world, f"/api/users?telegram_id={ALICE}"))[1]["username"] == "alice"

    assert await get(http, world, "/api/users?telegram_id=999") == (
        404,
        {"detail": "User not found"},
    )


async def test_an_ignored_users_query_returns_every_user(
    world: FakeApi, http: aiohttp.ClientSession
) -> None:
    world.users_query_ignored = True

    status, answer = await get(http, world, "/api/users?telegram_id=999")

    assert (status, [u["telegram_id"] for u in answer]) == (200, [ADMIN, ALICE])


async def test_a_user_is_found_by_telegram_id_or_404(
    world: FakeApi, http: aiohttp.ClientSession
) -> None:
    assert (await get(http, world, f"/api/users/by-telegram/{ALICE}"))[1]["username"] == "alice"
    assert (await get(http, world, "/api/users/by-telegram/999"))[0] == 404


async def test_timestamps_are_naive_on_users_and_zoned_on_tasks_with_extra_fields(
    world: FakeApi, http: aiohttp.ClientSession
) -> None:
    _, (user, *_) = await get(http, world, "/api/users")
    _, (task, *_) = await get(http, world, "/api/tasks", ALICE)

    assert not user["created_at"].endswith("Z")
    assert "+" not in user["created_at"]
    assert task["created_at"].endswith("Z")
    assert "is_active" in user
    assert "metadata" in task


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


async def test_a_required_internal_key_is_checked(
    world: FakeApi, http: aiohttp.ClientSession
) -> None:
    world.require_internal_key = "k3y"

    assert (await get(http, world, "/api/users/"))[0] == 401
    async with http.get(world.url + "/api/users/", headers={"X-Internal-Key": "k3y"}) as response:
        assert response.status == 200


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


async def test_a_canned_answer_replaces_one_path_after_its_redirect(
    world: FakeApi, http: aiohttp.ClientSession
) -> None:
    world.respond_with("/api/projects", b"not json", status=200, content_type="text/plain")

    async with http.get(world.url + "/api/projects") as response:
        assert (response.status, await response.read()) == (200, b"not json")
    assert [r.path for r in world.requests] == ["/api/projects", "/api/projects/"]


async def test_unknown_paths_answer_404_with_a_detail(
    world: FakeApi, http: aiohttp.ClientSession
) -> None:
    assert await get(http, world, "/api/nope") == (404, {"detail": "Not Found"})


async def test_the_demo_seed_has_an_admin_a_user_projects_servers_and_tasks(
    fake_api: FakeApi, http: aiohttp.ClientSession
) -> None:
    seed = seed_demo(fake_api)
    admin_id, user_id = seed.admin["telegram_id"], seed.user["telegram_id"]

    assert seed.admin["is_admin"]
    assert not seed.user["is_admin"]
    assert (await get(http, fake_api, "/api/servers", admin_id))[0] == 200
    assert (await get(http, fake_api, "/api/servers", user_id))[0] == 403
    _, projects = await get(http, fake_api, "/api/projects", user_id)
    _, tasks = await get(http, fake_api, "/api/tasks?status=running", user_id)
    assert len(projects) == 2
    assert len(tasks) == 1
