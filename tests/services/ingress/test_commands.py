"""Quick commands: answered from the API, escaped, split to fit, never forwarded."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aioredis

from services.fakes.api import FakeApi
from services.fakes.telegram import Failure, FakeTelegram, utf16_len
from shared import i18n
from shared.texts import RU
from tests.services.ingress.conftest import (
    ADMIN,
    KNOWN,
    StartIngress,
    handled,
    queued,
)

HOSTILE = "<b>x & y"


async def ask(fake_telegram: FakeTelegram, chat_id: int, text: str) -> list[str]:
    """Send ``text`` as the user; return what the bot answered."""
    await handled(fake_telegram, fake_telegram.inject_message(chat_id, text))
    return fake_telegram.chat(chat_id).texts


@pytest.fixture
async def running(
    fake_api: FakeApi, known_user: dict[str, Any], start_ingress: StartIngress
) -> None:
    fake_api.add_user(ADMIN, username="root", is_admin=True)
    await start_ingress()


@pytest.mark.usefixtures("running")
async def test_the_command_menu_is_registered_at_start_without_the_admins_servers(
    fake_telegram: FakeTelegram,
) -> None:
    menus = 1 + len(i18n.languages())  # the default one and one per language
    await fake_telegram.wait_for_call("setMyCommands", count=menus)
    assert {scope for scope, _language in fake_telegram.commands} == {'{"type":"default"}'}
    for menu in fake_telegram.commands.values():
        assert [c["command"] for c in menu] == [
            "projects",
            "tasks",
            "status",
            "stop",
            "new",
            "help",
        ]


async def test_a_slow_command_menu_neither_delays_polling_nor_a_sigterm(
    fake_telegram: FakeTelegram, start_ingress: StartIngress
) -> None:
    fake_telegram.fail_next("setMyCommands", Failure.slow(60))

    running = await start_ingress()  # returns once a getUpdates poll waits

    assert not running.task.done()
    assert await running.finish() == 0  # within finish()'s 10 s, not the menu's 60


@pytest.mark.usefixtures("running")
@pytest.mark.parametrize("command", ["/help", "/start"])
async def test_help_and_start_list_the_commands(fake_telegram: FakeTelegram, command: str) -> None:
    (answer,) = await ask(fake_telegram, KNOWN, command)
    assert answer == RU.help
    for listed in ("/projects", "/tasks", "/help"):
        assert listed in answer


@pytest.mark.usefixtures("running")
@pytest.mark.parametrize("command", ["/help", "/start", "/deploy"])
async def test_only_an_admins_help_offers_servers(
    fake_telegram: FakeTelegram, command: str
) -> None:
    (users,) = await ask(fake_telegram, KNOWN, command)
    (admins,) = await ask(fake_telegram, ADMIN, command)

    assert "/servers" not in users
    assert admins.endswith(RU.help_admin)
    assert "/servers" in admins


@pytest.mark.usefixtures("running")
async def test_a_user_who_types_servers_is_still_answered(
    fake_telegram: FakeTelegram, fake_api: FakeApi
) -> None:
    fake_api.add_server("srv-alpha")

    assert await ask(fake_telegram, KNOWN, "/servers") == [RU.admins_only]
    (listed,) = await ask(fake_telegram, ADMIN, "/servers")
    assert listed.startswith("Серверы (1)\n\nsrv-alpha")
    assert len(fake_api.requests_to("/api/servers/")) == 2


@pytest.mark.usefixtures("running")
async def test_projects_lists_the_users_projects_with_status_and_repository(
    fake_telegram: FakeTelegram, fake_api: FakeApi, redis: aioredis.Redis
) -> None:
    fake_api.add_project(KNOWN, "shop", status="developing", repository_url="https://git/shop")
    fake_api.add_project(
        KNOWN, "blog", status="draft", repository_url="https://git/blog", nested_config=True
    )
    fake_api.add_project(KNOWN, "bare", status="weird")
    fake_api.add_project(ADMIN, "not yours")

    (answer,) = await ask(fake_telegram, KNOWN, "/projects")

    assert answer == (
        "Ваши проекты (3)\n\n"
        "shop — в разработке\nРепозиторий: https://git/shop\n\n"
        "blog — черновик\nРепозиторий: https://git/blog\n\n"
        "bare — weird"
    )
    (request,) = fake_api.requests_to("/api/projects/")
    assert request.headers["X-Telegram-ID"] == str(KNOWN)
    assert await queued(redis) == []


@pytest.mark.usefixtures("running")
async def test_servers_show_status_and_usage_against_capacity(
    fake_telegram: FakeTelegram, fake_api: FakeApi
) -> None:
    fake_api.add_server("srv-alpha")
    fake_api.add_server("srv-tiny", status="provisioning", capacity_ram_mb=512, used_ram_mb=128)
    fake_api.add_server("srv-new", capacity_ram_mb=0, capacity_disk_mb=0)

    (answer,) = await ask(fake_telegram, ADMIN, "/servers")

    assert answer == (
        "Серверы (3)\n\n"
        "srv-alpha — работает\nRAM: 2 ГБ из 8 ГБ (25%) · диск: 10 ГБ из 80 ГБ (12%)\n\n"
        "srv-tiny — настраивается\nRAM: 128 МБ из 512 МБ (25%) · диск: 10 ГБ из 80 ГБ (12%)\n\n"
        "srv-new — работает\nRAM: нет данных · диск: нет данных"
    )


@pytest.mark.usefixtures("running")
async def test_servers_for_a_non_admin_say_admins_only(
    fake_telegram: FakeTelegram, fake_api: FakeApi
) -> None:
    fake_api.add_server("srv-alpha")
    assert await ask(fake_telegram, KNOWN, "/servers") == [RU.admins_only]


@pytest.mark.usefixtures("running")
@pytest.mark.parametrize(
    ("command", "route", "answer"),
    [
        ("/projects", "/api/projects", RU.list_forbidden),
        ("/servers", "/api/servers", RU.admins_only),
        ("/tasks", "/api/tasks", RU.list_forbidden),
    ],
)
async def test_a_403_on_a_quick_command_says_it_is_not_allowed_rather_than_unavailable(
    fake_telegram: FakeTelegram, fake_api: FakeApi, command: str, route: str, answer: str
) -> None:
    # The admin passes auth (/api/users answers as usual); only the list's own route says no.
    fake_api.respond_with(route, {"detail": "Not enough permissions"}, status=403)

    answers = await ask(fake_telegram, ADMIN, command)

    assert answers == [answer]
    assert answer != RU.service_unavailable
    (request,) = fake_api.requests_to(route + "/")
    assert request.headers["X-Telegram-ID"] == str(ADMIN)


@pytest.mark.usefixtures("running")
async def test_tasks_name_their_projects_by_the_users_own_project_names(
    fake_telegram: FakeTelegram, fake_api: FakeApi
) -> None:
    shop = fake_api.add_project(KNOWN, HOSTILE)
    theirs = fake_api.add_project(ADMIN, "not yours")
    fake_api.add_task(KNOWN, type="deploy", project_id=str(shop["id"]))
    fake_api.add_task(KNOWN, type="build", project_id=str(theirs["id"]))
    fake_api.add_task(KNOWN, type="lint")

    (answer,) = await ask(fake_telegram, KNOWN, "/tasks")

    deploy, build, lint = answer.split("\n\n")[1:]
    assert deploy.splitlines()[1] == f"проект «{HOSTILE}»"
    assert build.splitlines()[1] == f"проект {theirs['id']}", "not in their list: the id"
    assert not lint.splitlines()[1].startswith("проект")
    (request,) = fake_api.requests_to("/api/projects/")
    assert request.headers["X-Telegram-ID"] == str(KNOWN)


@pytest.mark.usefixtures("running")
async def test_tasks_without_a_project_cost_no_projects_call_and_a_failing_one_shows_ids(
    fake_telegram: FakeTelegram, fake_api: FakeApi
) -> None:
    fake_api.add_task(KNOWN, type="lint")
    await ask(fake_telegram, KNOWN, "/tasks")
    assert fake_api.requests_to("/api/projects/") == []

    shop = fake_api.add_project(KNOWN, "shop")
    fake_api.add_task(KNOWN, type="deploy", project_id=str(shop["id"]))
    fake_api.respond_with("/api/projects/", {"detail": "boom"}, status=500)

    answer = (await ask(fake_telegram, KNOWN, "/tasks"))[-1]

    assert f"deploy — выполняется · {fake_api.tasks[KNOWN][1]['id']}\nпроект {shop['id']}" in answer


@pytest.mark.usefixtures("running")
async def test_tasks_lists_only_the_running_ones(
    fake_telegram: FakeTelegram, fake_api: FakeApi
) -> None:
    running = fake_api.add_task(KNOWN, type="deploy", project_id="p-1")
    fake_api.add_task(KNOWN, status="failed")

    (answer,) = await ask(fake_telegram, KNOWN, "/tasks")

    lines = answer.splitlines()
    assert lines[:3] == ["Активные задачи (1)", "", f"deploy — выполняется · {running['id']}"]
    assert lines[3] == "проект p-1"
    assert lines[4].startswith("запущена ")
    assert lines[4].endswith(" UTC")
    (request,) = fake_api.requests_to("/api/tasks/")
    assert request.query == {"status": "running"}


@pytest.mark.usefixtures("running")
@pytest.mark.parametrize(
    ("command", "empty"),
    [
        ("/projects", "У вас пока нет проектов."),
        ("/servers", "Серверов пока нет."),
        ("/tasks", "Сейчас нет активных задач."),
    ],
)
async def test_an_empty_list_gets_a_friendly_line(
    fake_telegram: FakeTelegram, command: str, empty: str
) -> None:
    assert await ask(fake_telegram, ADMIN, command) == [empty]


@pytest.mark.usefixtures("running")
@pytest.mark.parametrize("failure", ["down", "error_503"])
@pytest.mark.parametrize("command", ["/projects", "/servers", "/tasks"])
async def test_a_quick_command_with_the_api_failing_says_the_service_is_unavailable(
    fake_telegram: FakeTelegram, fake_api: FakeApi, command: str, failure: str
) -> None:
    # Authenticated first (cached), so the failure hits the command's own call.
    await ask(fake_telegram, ADMIN, "/help")
    if failure == "down":
        fake_api.down = True
    else:
        fake_api.fail_with = 503

    answers = await ask(fake_telegram, ADMIN, command)

    assert answers[-1] == RU.service_unavailable


@pytest.mark.usefixtures("running")
async def test_names_from_the_api_are_shown_exactly_as_written(
    fake_telegram: FakeTelegram, fake_api: FakeApi
) -> None:
    fake_api.add_project(ADMIN, HOSTILE, status="<i>", repository_url="https://x/?a=1&b=<2>")
    fake_api.add_server("<srv & co>", status='"quoted"')
    fake_api.add_task(ADMIN, type="a&amp;b", project_id="</code>")

    projects = (await ask(fake_telegram, ADMIN, "/projects"))[-1]
    servers = (await ask(fake_telegram, ADMIN, "/servers"))[-1]
    tasks = (await ask(fake_telegram, ADMIN, "/tasks"))[-1]

    assert f"{HOSTILE} — <i>\nРепозиторий: https://x/?a=1&b=<2>" in projects
    assert '<srv & co> — "quoted"' in servers
    assert "a&amp;b — выполняется" in tasks
    assert "проект </code>" in tasks


@pytest.mark.usefixtures("running")
async def test_a_long_list_of_long_items_comes_in_pages_within_telegrams_limit(
    fake_telegram: FakeTelegram, fake_api: FakeApi
) -> None:
    names = [f"{n:03d}-" + "ж&" * 100 for n in range(15)]
    for name in names:
        fake_api.add_project(ADMIN, name, repository_url="https://git.example.org/" + "r" * 200)

    (answer,) = await ask(fake_telegram, ADMIN, "/projects")

    assert utf16_len(answer) <= 4096
    assert answer.startswith("Ваши проекты (15) · стр. 1 из ")
    shown = [name for name in names if name[:60] in answer]
    assert shown == names[: len(shown)]
    assert 1 <= len(shown) < 10


@pytest.mark.usefixtures("running")
async def test_a_short_list_has_no_page_buttons(
    fake_telegram: FakeTelegram, fake_api: FakeApi
) -> None:
    for n in range(10):
        fake_api.add_server(f"srv-{n}")

    (answer,) = await ask(fake_telegram, ADMIN, "/servers")

    assert answer.startswith("Серверы (10)\n\n")
    assert "reply_markup" not in fake_telegram.chat(ADMIN).sent[-1]


@pytest.mark.usefixtures("running")
async def test_an_unknown_command_is_answered_with_help_and_not_forwarded(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    (answer,) = await ask(fake_telegram, KNOWN, "/deploy now")
    assert answer == f"Команды /deploy нет, ассистенту она не передана.\n\n{RU.help}"
    assert await queued(redis) == []
