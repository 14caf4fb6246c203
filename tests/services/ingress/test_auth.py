"""Whitelist authentication: strangers are turned away before anything else happens."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aioredis

from services.fakes.api import FakeApi
from services.fakes.telegram import FakeTelegram
from shared import keys
from shared.texts import RU
from tests.services.ingress.conftest import (
    KNOWN,
    STRANGER,
    StartIngress,
    handled,
    queued,
)

USERS_PATH = "/api/users/"


def rejection(telegram_id: int) -> str:
    return f"Доступ запрещён. Обратитесь к администратору.\nВаш Telegram ID: {telegram_id}"


async def test_an_unknown_user_gets_exactly_the_rejection_and_nothing_is_queued_or_spawned(
    fake_telegram: FakeTelegram,
    fake_api: FakeApi,
    redis: aioredis.Redis,
    known_user: dict[str, Any],
    start_ingress: StartIngress,
) -> None:
    await start_ingress()

    update = fake_telegram.inject_message(STRANGER, "let me in")

    await handled(fake_telegram, update)
    assert fake_telegram.chat(STRANGER).texts == [rejection(STRANGER)]
    assert await queued(redis) == []
    assert await redis.xlen(keys.WORKER_COMMANDS) == 0
    # One question to the API, about exactly this person, and nothing more.
    assert [(r.path, r.query) for r in fake_api.requests if r.path == USERS_PATH] == [
        (USERS_PATH, {"telegram_id": str(STRANGER)})
    ]
    assert {r.path for r in fake_api.requests} == {USERS_PATH}, "asked slashed: no redirect"


async def test_an_api_answering_every_user_does_not_let_a_stranger_in(
    fake_telegram: FakeTelegram,
    fake_api: FakeApi,
    redis: aioredis.Redis,
    known_user: dict[str, Any],
    start_ingress: StartIngress,
) -> None:
    fake_api.add_user(KNOWN + 1, is_admin=True)
    fake_api.users_query_ignored = True
    await start_ingress()

    update = fake_telegram.inject_message(STRANGER, "/projects")

    await handled(fake_telegram, update)
    assert fake_telegram.chat(STRANGER).texts == [rejection(STRANGER)]
    assert await queued(redis) == []
    assert fake_api.requests_to("/api/projects/") == []


async def test_a_known_users_lookup_is_cached_and_asked_again_after_the_cache_time(
    fake_telegram: FakeTelegram,
    fake_api: FakeApi,
    redis: aioredis.Redis,
    known_user: dict[str, Any],
    start_ingress: StartIngress,
) -> None:
    running = await start_ingress(AUTH_CACHE_TTL_S="60")
    for text in ("one", "two", "three"):
        update = fake_telegram.inject_message(KNOWN, text)
    await handled(fake_telegram, update)
    assert len(fake_api.requests_to(USERS_PATH)) == 1

    running.clock.advance(61)
    update = fake_telegram.inject_message(KNOWN, "four")
    await handled(fake_telegram, update)

    assert len(fake_api.requests_to(USERS_PATH)) == 2
    assert [m.text for m in await queued(redis)] == ["one", "two", "three", "four"]


async def test_a_revoked_user_is_out_once_the_cache_time_has_passed(
    fake_telegram: FakeTelegram,
    fake_api: FakeApi,
    redis: aioredis.Redis,
    known_user: dict[str, Any],
    start_ingress: StartIngress,
) -> None:
    running = await start_ingress(AUTH_CACHE_TTL_S="30")
    await handled(fake_telegram, fake_telegram.inject_message(KNOWN, "before"))
    fake_api.users.remove(known_user)

    await handled(fake_telegram, fake_telegram.inject_message(KNOWN, "still cached"))
    running.clock.advance(31)
    await handled(fake_telegram, fake_telegram.inject_message(KNOWN, "after"))

    assert [m.text for m in await queued(redis)] == ["before", "still cached"]
    assert fake_telegram.chat(KNOWN).texts == [RU.keyboard_note, rejection(KNOWN)]


async def test_a_stranger_writing_again_and_again_is_rejected_once_per_cache_period(
    fake_telegram: FakeTelegram,
    fake_api: FakeApi,
    start_ingress: StartIngress,
) -> None:
    running = await start_ingress(AUTH_CACHE_UNKNOWN_TTL_S="5")
    for n in range(5):
        update = fake_telegram.inject_message(STRANGER, f"spam {n}")
    await handled(fake_telegram, update)
    assert len(fake_telegram.chat(STRANGER).texts) == 1
    assert len(fake_api.requests_to(USERS_PATH)) == 1

    running.clock.advance(6)
    await handled(fake_telegram, fake_telegram.inject_message(STRANGER, "again"))

    assert len(fake_telegram.chat(STRANGER).texts) == 2
    assert len(fake_api.requests_to(USERS_PATH)) == 2


async def test_a_crowd_of_strangers_gets_no_more_rejections_than_the_burst_allows(
    fake_telegram: FakeTelegram,
    start_ingress: StartIngress,
) -> None:
    await start_ingress(AUTH_REJECTIONS_PER_S="1")
    strangers = range(5000, 5015)
    for stranger in strangers:
        update = fake_telegram.inject_message(stranger, "hi")
    await handled(fake_telegram, update)

    told = [s for s in strangers if fake_telegram.chat(s).texts]
    assert told == list(strangers)[:10]


@pytest.mark.parametrize("failure", ["down", "slow", "error_500", "garbage"])
async def test_when_the_api_cannot_answer_the_user_is_told_and_nothing_is_forwarded(
    failure: str,
    fake_telegram: FakeTelegram,
    fake_api: FakeApi,
    redis: aioredis.Redis,
    known_user: dict[str, Any],
    start_ingress: StartIngress,
) -> None:
    if failure == "down":
        fake_api.down = True
    elif failure == "slow":
        fake_api.slow = 5.0
    elif failure == "error_500":
        fake_api.fail_with = 500
    else:
        fake_api.respond_with("/api/users", b"<html>oops</html>", content_type="text/html")
    running = await start_ingress(API_TIMEOUT_S="0.3")

    await handled(fake_telegram, fake_telegram.inject_message(KNOWN, "hello"))

    assert fake_telegram.chat(KNOWN).texts == [RU.service_unavailable]
    assert await queued(redis) == []
    # Failures are not cached: once the API is back, the next message goes through.
    fake_api.down, fake_api.slow, fake_api.fail_with = False, 0.0, None
    fake_api.clear_responses()
    await handled(fake_telegram, fake_telegram.inject_message(KNOWN, "again"))
    assert [m.text for m in await queued(redis)] == ["again"]
    assert not running.task.done()
