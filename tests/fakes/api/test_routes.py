"""The fake API's routes: the paths CONTRACTS.md lists, scoped and worded like the API's."""

from __future__ import annotations

from typing import Any

import aiohttp

from services.fakes.api import FakeApi
from tests.fakes.api import ADMIN, ALICE, BOB, get


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


async def test_collections_are_served_at_the_slashed_paths_without_a_redirect(
    world: FakeApi, http: aiohttp.ClientSession
) -> None:
    for path in ("/api/users/", "/api/projects/", "/api/servers/", "/api/tasks/"):
        async with http.get(
            world.url + path, headers={"X-Telegram-ID": str(ADMIN)}, allow_redirects=False
        ) as response:
            assert response.status == 200, path
    assert [r.path for r in world.requests] == [
        "/api/users/",
        "/api/projects/",
        "/api/servers/",
        "/api/tasks/",
    ]


async def test_unslashed_collections_turn_the_redirect_round(
    world: FakeApi, http: aiohttp.ClientSession
) -> None:
    world.collections_unslashed = True

    async with http.get(world.url + "/api/tasks/?status=running", allow_redirects=False) as slash:
        assert slash.status == 307
        assert slash.headers["Location"] == f"{world.url}/api/tasks?status=running"
    status, tasks = await get(http, world, "/api/tasks?status=running", ALICE)
    assert (status, [t["status"] for t in tasks]) == (200, ["running"])


async def test_one_project_is_found_by_id_only_by_whoever_sees_it(
    world: FakeApi, http: aiohttp.ClientSession
) -> None:
    project_id = world.projects[ALICE][0]["id"]
    world.add_user(BOB)

    assert (await get(http, world, f"/api/projects/{project_id}", ALICE))[0] == 200
    assert (await get(http, world, f"/api/projects/{project_id}", ADMIN))[0] == 200
    assert await get(http, world, f"/api/projects/{project_id}", BOB) == (
        403,
        {"detail": "Access denied: not project owner"},
    )
    assert (await get(http, world, "/api/projects/no-such-id", ALICE))[0] == 404
    assert (await get(http, world, f"/api/projects/{project_id}", 999))[0] == 404


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


async def test_a_user_is_found_by_telegram_id_or_404(
    world: FakeApi, http: aiohttp.ClientSession
) -> None:
    assert (await get(http, world, f"/api/users/by-telegram/{ALICE}"))[1]["username"] == "alice"
    assert (await get(http, world, "/api/users/by-telegram/999"))[0] == 404


async def test_unknown_paths_answer_404_with_a_detail(
    world: FakeApi, http: aiohttp.ClientSession
) -> None:
    assert await get(http, world, "/api/nope") == (404, {"detail": "Not Found"})


# --- onboarding: POST /api/users/ and /upsert ------------------------------------

NEWCOMER = 7777


async def post(
    http: aiohttp.ClientSession, world: FakeApi, path: str, body: object
) -> tuple[int, Any]:
    async with http.post(world.url + path, json=body, allow_redirects=False) as response:
        return response.status, await response.json()


async def test_creating_a_user_answers_201_with_the_user(
    world: FakeApi, http: aiohttp.ClientSession
) -> None:
    status, user = await post(
        http, world, "/api/users/", {"telegram_id": NEWCOMER, "first_name": "Grace"}
    )

    assert status == 201
    assert (user["telegram_id"], user["first_name"], user["is_admin"]) == (NEWCOMER, "Grace", False)
    assert world.user(NEWCOMER) == user


async def test_creating_a_user_whose_telegram_id_exists_answers_409(
    world: FakeApi, http: aiohttp.ClientSession
) -> None:
    status, answer = await post(http, world, "/api/users/", {"telegram_id": ALICE})

    assert status == 409
    assert "already exists" in answer["detail"]
    assert len([u for u in world.users if u["telegram_id"] == ALICE]) == 1


async def test_creating_a_user_without_a_telegram_id_answers_422(
    world: FakeApi, http: aiohttp.ClientSession
) -> None:
    status, _ = await post(http, world, "/api/users/", {"first_name": "Nobody"})

    assert status == 422


async def test_creating_a_user_at_the_unslashed_path_answers_307(
    world: FakeApi, http: aiohttp.ClientSession
) -> None:
    async with http.post(
        world.url + "/api/users", json={"telegram_id": NEWCOMER}, allow_redirects=False
    ) as response:
        assert response.status == 307
    assert world.user(NEWCOMER) is None


async def test_upsert_creates_then_updates_keeping_what_it_is_not_given(
    world: FakeApi, http: aiohttp.ClientSession
) -> None:
    created_status, _ = await post(
        http, world, "/api/users/upsert", {"telegram_id": NEWCOMER, "username": "grace"}
    )
    status, user = await post(
        http, world, "/api/users/upsert", {"telegram_id": NEWCOMER, "first_name": "Grace"}
    )

    assert (created_status, status) == (200, 200)
    assert (user["username"], user["first_name"]) == ("grace", "Grace")
    assert len([u for u in world.users if u["telegram_id"] == NEWCOMER]) == 1
