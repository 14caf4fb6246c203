"""Who the admins are: the API's list, cached for ``ttl_s``, and the last one kept when it is down.

A real ``ApiClient`` against the fake API; time is moved by hand.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.fakes.api import FakeApi
from services.notifier.admins import AdminList, Admins
from shared.api import ApiClient

ADMIN, ENV_ADMIN, NEW_ADMIN = 5001, 5002, 5004
TTL_S = 60.0


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def api(fake_api: FakeApi) -> AsyncIterator[ApiClient]:
    fake_api.add_user(ADMIN, is_admin=True)
    fake_api.add_user(5003)  # not an admin
    async with ApiClient(fake_api.url, None, timeout=2.0) as client:
        yield client


def asked(fake_api: FakeApi) -> int:
    """Requests for the list of users the fake API has seen, answered or not."""
    return sum(1 for r in fake_api.requests if r.path.startswith("/api/users"))


async def test_when_the_api_goes_down_the_last_list_it_gave_is_used(
    fake_api: FakeApi, api: ApiClient
) -> None:
    clock = Clock()
    admins = Admins(api, (ENV_ADMIN,), ttl_s=TTL_S, clock=clock)
    expected = AdminList((ADMIN, ENV_ADMIN), complete=True)
    assert await admins.current() == expected

    fake_api.down = True
    clock.now += TTL_S
    before = len(fake_api.requests)

    assert await admins.current() == expected
    unanswered = fake_api.requests[before:]
    assert unanswered, "the list is stale: the API was asked again"
    assert all(request.dropped for request in unanswered)


async def test_within_the_ttl_the_cached_list_is_used_and_after_it_the_api_is_asked_again(
    fake_api: FakeApi, api: ApiClient
) -> None:
    clock = Clock()
    admins = Admins(api, (ENV_ADMIN,), ttl_s=TTL_S, clock=clock)
    await admins.current()
    fake_api.add_user(NEW_ADMIN, is_admin=True)
    before = asked(fake_api)

    clock.now += TTL_S - 1
    assert (await admins.current()).telegram_ids == (ADMIN, ENV_ADMIN)
    assert asked(fake_api) == before

    clock.now += 1
    assert (await admins.current()).telegram_ids == (ADMIN, ENV_ADMIN, NEW_ADMIN)
