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
    assert len(fake_api.requests_to("/api/users")) == 1
