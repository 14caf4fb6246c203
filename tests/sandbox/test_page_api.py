"""The page's files and its /_sandbox API, served by the fake Telegram beside the Bot API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import aiohttp
import pytest

from services.fakes.telegram import FakeTelegram
from services.sandbox import page
from services.sandbox.provisioning import Outcome, example_result
from services.sandbox.world import PEOPLE, Person
from shared.schemas import ProvisionerResult


class StubBackend:
    def __init__(self) -> None:
        self.published: list[ProvisionerResult] = []

    @property
    def people(self) -> Sequence[Person]:
        return PEOPLE

    def chat(self, telegram_id: int) -> dict[str, Any]:
        return {"chat": {"id": telegram_id}, "messages": [], "version": 7}

    async def status(self) -> dict[str, Any]:
        return {"ready": True, "processes": {"ingress": "RUNNING"}}

    async def publish(self, outcome: Outcome) -> ProvisionerResult:
        result = example_result(outcome)
        self.published.append(result)
        return result


@pytest.fixture
def backend() -> StubBackend:
    return StubBackend()


@pytest.fixture
async def http(backend: StubBackend) -> AsyncIterator[aiohttp.ClientSession]:
    """A client of the fake Telegram serving the page: paths are relative to its root."""
    async with (
        FakeTelegram(routes=page.routes(backend)) as fake,
        aiohttp.ClientSession(base_url=fake.url) as session,
    ):
        yield session


async def test_the_page_and_its_script_are_served_at_the_root(http: aiohttp.ClientSession) -> None:
    async with http.get("/") as response:
        assert response.status == 200
        assert "<title>telegram-bot sandbox</title>" in await response.text()
    async with http.get("/static/chat.js") as response:
        assert response.status == 200
        assert "/_fake/wait" in await response.text()


async def test_the_bot_api_and_the_fakes_404_still_answer_beside_the_page(
    http: aiohttp.ClientSession,
) -> None:
    async with http.get("/bot123456:TEST-token_abc/getMe") as response:
        assert (await response.json())["result"]["is_bot"] is True
    async with http.get("/nothing-here") as response:
        assert response.status == 404


async def test_the_people_are_the_admin_users_with_a_persona_a_language_or_projects_a_stranger(
    http: aiohttp.ClientSession,
) -> None:
    async with http.get("/_sandbox/people") as response:
        people = await response.json()
    assert [(p["key"], p["role"], p["persona"], p["language_code"]) for p in people] == [
        ("admin", "admin", None, "ru"),
        ("user", "user", None, "ru"),
        ("grace", "user", "streaming", "ru"),
        ("alan", "user", "proactive", "ru"),
        ("emma", "user", None, "en"),
        ("margaret", "user", None, "ru"),
        ("stranger", "stranger", None, "ru"),
    ]
    assert len({p["telegram_id"] for p in people}) == 7


async def test_a_chat_id_that_is_not_a_number_is_a_bad_request(http: aiohttp.ClientSession) -> None:
    async with http.get("/_sandbox/chats/me") as response:
        assert response.status == 400
    async with http.get("/_sandbox/chats/100002") as response:
        assert (await response.json())["version"] == 7


@pytest.mark.parametrize("outcome", ["success", "failed"])
async def test_a_provisioning_result_is_published_on_request(
    http: aiohttp.ClientSession, backend: StubBackend, outcome: str
) -> None:
    async with http.post("/_sandbox/provisioning", json={"outcome": outcome}) as response:
        body = await response.json()
    assert body["status"] == outcome
    assert [r.server_handle for r in backend.published] == [body["server_handle"]]


@pytest.mark.parametrize("body", [{"outcome": "maybe"}, {}, [], "x"])
async def test_an_unknown_outcome_is_a_bad_request_and_publishes_nothing(
    http: aiohttp.ClientSession, backend: StubBackend, body: Any
) -> None:
    async with http.post("/_sandbox/provisioning", json=body) as response:
        assert response.status == 400
    assert backend.published == []
