"""Inline buttons under lists: pages turned in place, project details, forged and stale data."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aioredis

from services.fakes.api import COLLECTIONS, JSON, FakeApi
from services.fakes.telegram import FakeTelegram
from shared.texts import RU
from tests.services.ingress.conftest import (
    KNOWN,
    RunningIngress,
    StartIngress,
    handled,
    queued,
)

OTHER = 1003
GROUP = -4242
PAGE_ONE = "Ваши проекты (35) · стр. 1 из 4"


@pytest.fixture
async def running(
    fake_telegram: FakeTelegram, known_user: dict[str, Any], start_ingress: StartIngress
) -> RunningIngress:
    # Page turns are edits, paced like messages: lifted here, so no test waits for budget.
    fake_telegram.lift_flood_limits()
    return await start_ingress(TELEGRAM_RATE_CHAT_PER_S="100")


@pytest.fixture
def projects(fake_api: FakeApi) -> list[JSON]:
    return [fake_api.add_project(KNOWN, f"project-{n:02d}") for n in range(35)]


def inline_keyboard(message: dict[str, Any]) -> list[list[str]]:
    """The texts of a message's inline buttons, row by row."""
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [[button["text"] for button in row] for row in rows]


def data_of(message: dict[str, Any], text: str) -> str:
    for row in message["reply_markup"]["inline_keyboard"]:
        for button in row:
            if button["text"] == text:
                return str(button["callback_data"])
    raise KeyError(text)


async def ask(fake_telegram: FakeTelegram, text: str, chat_id: int = KNOWN) -> dict[str, Any]:
    """Write ``text``; the bot's latest message after the answer."""
    await handled(fake_telegram, fake_telegram.inject_message(chat_id, text))
    return fake_telegram.chat(chat_id).sent[-1]


async def press(
    fake_telegram: FakeTelegram,
    message: dict[str, Any],
    data: str,
    *,
    chat_id: int = KNOWN,
    user_id: int | None = None,
) -> str:
    """Press a button with ``data`` under ``message``; the text the query was answered with."""
    update = fake_telegram.inject_callback_query(
        chat_id, data, message_id=message["message_id"], user_id=user_id
    )
    await handled(fake_telegram, update)
    query_id = update["callback_query"]["id"]
    (answer,) = [a for a in fake_telegram.callback_answers if a["callback_query_id"] == query_id]
    return str(answer["text"])


def shown(fake_telegram: FakeTelegram, message: dict[str, Any]) -> dict[str, Any]:
    """``message`` as the user sees it now (edits applied)."""
    return fake_telegram.chat(KNOWN).messages[message["message_id"]]


def project_buttons(first: int, last: int) -> list[list[str]]:
    names = [f"ℹ️ project-{n:02d}" for n in range(first, last + 1)]
    return [names[i : i + 2] for i in range(0, len(names), 2)]


@pytest.mark.usefixtures("running", "projects")
async def test_thirty_five_projects_are_paged_forwards_and_back_in_the_same_message(
    fake_telegram: FakeTelegram, fake_api: FakeApi, redis: aioredis.Redis
) -> None:
    listing = await ask(fake_telegram, "/projects")
    assert listing["text"].startswith(PAGE_ONE + "\n\nproject-00 — работает")
    assert "project-09" in listing["text"]
    assert "project-10" not in listing["text"]
    assert inline_keyboard(listing) == [*project_buttons(0, 9), ["▶"]]

    assert await press(fake_telegram, listing, data_of(listing, "▶")) == ""
    page = shown(fake_telegram, listing)
    assert page["text"].startswith("Ваши проекты (35) · стр. 2 из 4\n\nproject-10 — работает")
    assert page["text"].endswith("project-19 — работает")
    assert inline_keyboard(page) == [*project_buttons(10, 19), ["◀", "▶"]]
    assert {"type": "bold", "offset": 0} in [
        {"type": e["type"], "offset": e["offset"]} for e in page.get("entities", [])
    ], "the page is still HTML, its heading bold"

    await press(fake_telegram, listing, data_of(page, "▶"))
    await press(fake_telegram, listing, data_of(shown(fake_telegram, listing), "▶"))
    page = shown(fake_telegram, listing)
    assert page["text"].startswith("Ваши проекты (35) · стр. 4 из 4\n\nproject-30 — работает")
    assert page["text"].endswith("project-34 — работает")
    assert inline_keyboard(page) == [*project_buttons(30, 34), ["◀"]]

    await press(fake_telegram, listing, data_of(page, "◀"))
    page = shown(fake_telegram, listing)
    assert page["text"].startswith("Ваши проекты (35) · стр. 3 из 4\n\nproject-20 — работает")
    assert inline_keyboard(page) == [*project_buttons(20, 29), ["◀", "▶"]]

    assert len(fake_telegram.chat(KNOWN).sent) == 1, "edited in place, never sent anew"
    asked = fake_api.requests_to("/api/projects/")
    assert [r.headers["X-Telegram-ID"] for r in asked] == [str(KNOWN)] * 5
    assert await queued(redis) == []


@pytest.mark.usefixtures("running")
@pytest.mark.parametrize(
    ("command", "last"), [("/servers", "srv-10 — работает"), ("/tasks", "job-10 — выполняется")]
)
async def test_servers_and_tasks_are_paged_the_same_way(
    fake_telegram: FakeTelegram, fake_api: FakeApi, command: str, last: str
) -> None:
    fake_api.add_user(OTHER, is_admin=True)
    for n in range(11):
        fake_api.add_server(f"srv-{n:02d}")
        fake_api.add_task(OTHER, type=f"job-{n:02d}")
    listing = await ask(fake_telegram, command, OTHER)
    assert inline_keyboard(listing) == [["▶"]]

    update = fake_telegram.inject_callback_query(OTHER, data_of(listing, "▶"))
    await handled(fake_telegram, update)

    page = fake_telegram.chat(OTHER).messages[listing["message_id"]]
    assert f" · стр. 2 из 2\n\n{last}" in page["text"]
    assert inline_keyboard(page) == [["◀"]]


@pytest.mark.usefixtures("running")
async def test_a_project_button_shows_its_status_description_and_links(
    fake_telegram: FakeTelegram, fake_api: FakeApi
) -> None:
    project = fake_api.add_project(
        KNOWN,
        "shop <&>",
        status="developing",
        description="A small web shop",
        repository_url="https://git.example.org/shop",
        deployed_url="https://shop.example.org",
    )
    listing = await ask(fake_telegram, "/projects")

    assert await press(fake_telegram, listing, data_of(listing, "ℹ️ shop <&>")) == ""

    card = fake_telegram.chat(KNOWN).sent[-1]
    assert card["text"] == (
        "shop <&>\n"
        "Статус: в разработке\n"
        "Описание: A small web shop\n"
        "Репозиторий: https://git.example.org/shop\n"
        "Развёрнут: https://shop.example.org"
    )
    (request,) = fake_api.requests_to(f"/api/projects/{project['id']}")
    assert request.headers["X-Telegram-ID"] == str(KNOWN)


@pytest.mark.usefixtures("running")
async def test_a_projects_details_are_the_answer_of_its_own_route(
    fake_telegram: FakeTelegram, fake_api: FakeApi
) -> None:
    project = fake_api.add_project(KNOWN, "shop")
    fuller = {**project, "description": "Only the route says this"}
    fake_api.respond_with(f"/api/projects/{project['id']}", fuller)
    listing = await ask(fake_telegram, "/projects")

    await press(fake_telegram, listing, data_of(listing, "ℹ️ shop"))

    assert fake_telegram.chat(KNOWN).texts[-1].endswith("Описание: Only the route says this")
    asked = [r.path for r in fake_api.requests if r.path.startswith("/api/projects")]
    assert asked == ["/api/projects/", f"/api/projects/{project['id']}", "/api/projects/"]


@pytest.mark.usefixtures("running")
async def test_the_ingress_asks_every_route_directly_and_never_takes_a_redirect(
    fake_telegram: FakeTelegram, fake_api: FakeApi
) -> None:
    fake_api.add_user(OTHER, is_admin=True)
    shop = fake_api.add_project(KNOWN, "shop")
    fake_api.add_task(KNOWN, project_id=str(shop["id"]))
    fake_api.add_server("srv-alpha")
    listing = await ask(fake_telegram, "/projects")
    await press(fake_telegram, listing, data_of(listing, "ℹ️ shop"))
    await ask(fake_telegram, "/tasks")
    await ask(fake_telegram, "/servers", OTHER)

    paths = {r.path for r in fake_api.requests}
    assert paths == {
        "/api/users/",
        "/api/projects/",
        f"/api/projects/{shop['id']}",
        "/api/tasks/",
        "/api/servers/",
    }
    assert not paths & set(COLLECTIONS), "no 307 was ever answered"


@pytest.mark.usefixtures("running")
@pytest.mark.parametrize("status", [404, 405])
async def test_without_the_project_route_the_details_come_from_the_users_list(
    fake_telegram: FakeTelegram, fake_api: FakeApi, status: int
) -> None:
    project = fake_api.add_project(KNOWN, "blog", description="Notes", nested_config=True)
    fake_api.respond_with(f"/api/projects/{project['id']}", {"detail": "Not Found"}, status=status)
    listing = await ask(fake_telegram, "/projects")

    await press(fake_telegram, listing, data_of(listing, "ℹ️ blog"))

    assert fake_telegram.chat(KNOWN).texts[-1] == "blog\nСтатус: работает\nОписание: Notes"
    assert len(fake_api.requests_to("/api/projects/")) == 2  # the command's, and the fallback


@pytest.mark.usefixtures("running")
@pytest.mark.parametrize(
    ("status", "body"),
    [(200, b"<html>oops</html>"), (200, {"id": "another", "name": "x"}), (422, {"detail": "?"})],
    ids=["garbage", "another_project", "unprocessable"],
)
async def test_a_broken_project_route_is_said_and_not_papered_over_with_the_list(
    fake_telegram: FakeTelegram, fake_api: FakeApi, status: int, body: object
) -> None:
    project = fake_api.add_project(KNOWN, "blog", description="Notes")
    fake_api.respond_with(f"/api/projects/{project['id']}", body, status=status)
    listing = await ask(fake_telegram, "/projects")

    answer = await press(fake_telegram, listing, data_of(listing, "ℹ️ blog"))

    assert answer == RU.service_unavailable
    assert len(fake_telegram.chat(KNOWN).sent) == 1, "no card"


@pytest.mark.usefixtures("running", "projects")
@pytest.mark.parametrize(
    "data",
    [
        "garbage",
        "pg1:p",
        "pg1:p:1:2",
        "pg1:x:1",
        "pg1:p:-1",
        "pg1:p:one",
        "pg1:p:100000",
        "pg0:p:1",
        "pg2:p:1",
        "pr1:",
        "pr1:../users",
        "pr1:" + "a" * 60,
        "pr1:no-such-project",
        "pr9:abc",
    ],
)
async def test_forged_or_stale_button_data_is_answered_as_expired_and_changes_nothing(
    fake_telegram: FakeTelegram, fake_api: FakeApi, data: str
) -> None:
    listing = await ask(fake_telegram, "/projects")
    before = dict(shown(fake_telegram, listing))

    assert await press(fake_telegram, listing, data) == RU.button_expired

    assert shown(fake_telegram, listing) == before
    assert len(fake_telegram.chat(KNOWN).sent) == 1
    assert (await ask(fake_telegram, "/help"))["text"] == RU.help, "still running"


@pytest.mark.usefixtures("running")
@pytest.mark.parametrize("route_scoped", [True, False], ids=["scoped_route", "unscoped_route"])
async def test_a_forged_button_never_opens_another_users_project(
    fake_telegram: FakeTelegram, fake_api: FakeApi, route_scoped: bool
) -> None:
    fake_api.project_route_unscoped = not route_scoped
    fake_api.add_user(OTHER)
    theirs = fake_api.add_project(OTHER, "their secret", description="not for you")
    fake_api.add_project(KNOWN, "mine")
    listing = await ask(fake_telegram, "/projects")

    answer = await press(fake_telegram, listing, f"pr1:{theirs['id']}")

    assert answer == RU.button_expired
    assert not any("secret" in text for text in fake_telegram.chat(KNOWN).texts)
    asked = [r for r in fake_api.requests if r.path.startswith("/api/projects")]
    assert {r.headers["X-Telegram-ID"] for r in asked} == {str(KNOWN)}


@pytest.mark.usefixtures("running")
async def test_a_page_past_the_end_of_a_shrunk_list_shows_its_last_page(
    fake_telegram: FakeTelegram, fake_api: FakeApi, projects: list[JSON]
) -> None:
    listing = await ask(fake_telegram, "/projects")
    del fake_api.projects[KNOWN][15:]

    assert await press(fake_telegram, listing, "pg1:p:3") == ""

    page = shown(fake_telegram, listing)
    assert page["text"].startswith("Ваши проекты (15) · стр. 2 из 2\n\nproject-10")
    assert inline_keyboard(page)[-1] == ["◀"]


@pytest.mark.usefixtures("projects")
async def test_a_button_pressed_by_a_removed_user_is_rejected_like_their_messages(
    fake_telegram: FakeTelegram,
    fake_api: FakeApi,
    known_user: dict[str, Any],
    running: RunningIngress,
) -> None:
    listing = await ask(fake_telegram, "/projects")
    fake_api.users.remove(known_user)
    running.clock.advance(61)  # past AUTH_CACHE_TTL_S

    assert await press(fake_telegram, listing, data_of(listing, "▶")) == RU.access_denied

    assert shown(fake_telegram, listing)["text"].startswith(PAGE_ONE)
    assert fake_telegram.chat(KNOWN).texts[-1].startswith(RU.access_denied)
    assert len(fake_api.requests_to("/api/projects/")) == 1


async def test_a_strangers_button_press_is_rejected(
    fake_telegram: FakeTelegram, fake_api: FakeApi, start_ingress: StartIngress
) -> None:
    # A stranger can only press what the bot showed them: here, a message of their own.
    await start_ingress()
    listing = await ask(fake_telegram, "/projects")

    assert await press(fake_telegram, listing, "pg1:p:1") == RU.access_denied
    assert fake_api.requests_to("/api/projects/") == []


@pytest.mark.usefixtures("running")
async def test_a_button_under_a_group_message_is_expired(
    fake_telegram: FakeTelegram, fake_api: FakeApi
) -> None:
    fake_api.add_project(KNOWN, "mine")
    await handled(fake_telegram, fake_telegram.inject_message(GROUP, "hello", user_id=KNOWN))
    explained = fake_telegram.chat(GROUP).sent[-1]
    assert explained["text"] == RU.private_only

    answer = await press(fake_telegram, explained, "pg1:p:0", chat_id=GROUP, user_id=KNOWN)

    assert answer == RU.button_expired
    assert fake_api.requests_to("/api/projects/") == []


@pytest.mark.usefixtures("running", "projects")
async def test_the_api_failing_on_a_page_turn_is_said_in_the_answer_and_the_page_stays(
    fake_telegram: FakeTelegram, fake_api: FakeApi
) -> None:
    listing = await ask(fake_telegram, "/projects")
    fake_api.fail_with = 503

    assert await press(fake_telegram, listing, data_of(listing, "▶")) == RU.service_unavailable
    assert shown(fake_telegram, listing)["text"].startswith(PAGE_ONE)


@pytest.mark.usefixtures("running")
async def test_polling_asks_telegram_for_button_presses(fake_telegram: FakeTelegram) -> None:
    allowed = fake_telegram.allowed_updates
    assert allowed is not None
    assert "callback_query" in allowed
