"""The auth cache: bounded, expiring, and one API call for a burst from one person."""

from __future__ import annotations

import asyncio

from services.fakes.api import FakeApi
from services.fakes.telegram import ManualClock
from services.ingress.auth import RateLimit
from services.ingress.directory import TtlCache, UserDirectory
from shared.api import ApiClient


def test_entries_expire_after_their_own_ttl() -> None:
    clock = ManualClock()
    cache: TtlCache[int, str] = TtlCache(10, clock)
    cache.put(1, "long", 60)
    cache.put(2, "short", 5)
    clock.advance(6)
    assert cache.get(1) == (True, "long")
    assert cache.get(2) == (False, None)


def test_the_cache_never_grows_past_its_size_and_drops_the_least_recently_used() -> None:
    cache: TtlCache[int, int] = TtlCache(3, ManualClock())
    for key in (1, 2, 3):
        cache.put(key, key, 60)
    cache.get(1)
    cache.put(4, 4, 60)
    assert len(cache) == 3
    assert cache.get(2) == (False, None)
    assert cache.get(1) == (True, 1)


def test_the_rejection_budget_allows_a_burst_then_the_rate() -> None:
    clock = ManualClock()
    budget = RateLimit(rate=1.0, burst=3, clock=clock)
    assert [budget.take() for _ in range(4)] == [True, True, True, False]
    clock.advance(1.0)
    assert [budget.take() for _ in range(2)] == [True, False]


async def test_a_burst_of_lookups_for_one_person_is_one_api_call(fake_api: FakeApi) -> None:
    fake_api.add_user(1001, user_id=7)
    fake_api.slow = 0.2  # long enough for all ten to be waiting at once
    async with ApiClient(fake_api.url, None) as api:
        directory = UserDirectory(api, known_ttl_s=60, unknown_ttl_s=5, max_size=100)
        lookups = await asyncio.gather(*(directory.lookup(1001) for _ in range(10)))

    assert {lookup.user.id for lookup in lookups if lookup.user} == {7}
    assert [lookup.fresh for lookup in lookups].count(True) == 1
    assert len(fake_api.requests_to("/api/users/")) == 1


async def test_a_caller_that_gives_up_does_not_cancel_the_lookup_another_waits_for(
    fake_api: FakeApi,
) -> None:
    fake_api.add_user(1001, user_id=7)
    fake_api.slow = 0.3  # both callers wait on the one API call
    async with ApiClient(fake_api.url, None) as api:
        directory = UserDirectory(api, known_ttl_s=60, unknown_ttl_s=5, max_size=100)
        first = asyncio.create_task(directory.lookup(1001))
        await fake_api.wait_for_request("/api/users/")
        second = asyncio.create_task(directory.lookup(1001))
        await asyncio.sleep(0)  # the second is waiting too

        first.cancel()  # its webhook request was cut, say
        lookup = await asyncio.wait_for(second, 5)

    assert first.cancelled()
    assert lookup.user is not None
    assert lookup.user.id == 7
    assert len(fake_api.requests_to("/api/users/")) == 1


async def test_a_lookup_nobody_waits_for_any_more_is_cancelled(fake_api: FakeApi) -> None:
    fake_api.add_user(1001, user_id=7)
    fake_api.slow = 30
    async with ApiClient(fake_api.url, None) as api:
        directory = UserDirectory(api, known_ttl_s=60, unknown_ttl_s=5, max_size=100)
        callers = [asyncio.create_task(directory.lookup(1001)) for _ in range(2)]
        await fake_api.wait_for_request("/api/users/")  # held there (slow)
        lookups = [t for t in asyncio.all_tasks() if t.get_name().startswith("lookup-")]
        for caller in callers:
            caller.cancel()
        await asyncio.gather(*callers, return_exceptions=True)
        await asyncio.wait(lookups, timeout=5)

        assert len(lookups) == 1
        assert lookups[0].cancelled()
        fake_api.slow = 0
        fresh = await directory.lookup(1001)  # asks again: nothing stale was kept

    assert fresh.fresh
    assert fresh.user is not None
