"""The demo seed: a small believable world."""

from __future__ import annotations

import aiohttp

from services.fakes.api import FakeApi, seed_demo
from tests.fakes.api import get


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
