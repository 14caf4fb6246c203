"""Fixtures for the fake API's tests: an HTTP client, and a small world to query."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from services.fakes.api import FakeApi
from tests.fakes.api import ADMIN, ALICE, BOB


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
