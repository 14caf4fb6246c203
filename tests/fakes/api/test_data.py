"""The fake API's data is shaped like the deployed API's."""

from __future__ import annotations

import aiohttp

from services.fakes.api import FakeApi
from tests.fakes.api import ALICE, get


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
