"""Every answer in the sender's language (Telegram's ``language_code``), through the real
ingress and the fake Telegram; ``DEFAULT_LANGUAGE`` for a language without a catalogue."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
import redis.asyncio as aioredis

from services.fakes.api import FakeApi
from services.fakes.telegram import FakeTelegram
from shared import i18n
from shared.texts import RU, Texts, for_language
from tests.services.ingress.conftest import (
    ADMIN,
    KNOWN,
    STRANGER,
    StartIngress,
    handled,
    queued,
)
from tests.services.ingress.test_buttons import keyboard_labels, say
from tests.services.ingress.test_chat import STICKER

EN = for_language("en")
GROUP = -4242


def speaks(fake_telegram: FakeTelegram, telegram_id: int, language: str) -> None:
    fake_telegram.user(telegram_id)["language_code"] = language


@pytest.fixture
async def running(
    fake_telegram: FakeTelegram,
    fake_api: FakeApi,
    known_user: dict[str, Any],
    start_ingress: StartIngress,
) -> None:
    fake_telegram.lift_flood_limits()
    fake_api.add_user(ADMIN, username="root", is_admin=True)
    await start_ingress(TELEGRAM_RATE_CHAT_PER_S="100")


async def answers(fake_telegram: FakeTelegram, chat_id: int, text: str) -> list[str]:
    return [call.params["text"] for call in await say(fake_telegram, chat_id, text)]


QUICK: dict[str, Callable[[Texts], list[str]]] = {
    "/help": lambda t: [t.help],
    "/projects": lambda t: [t.list_empty["projects"]],
    "/tasks": lambda t: [t.list_empty["tasks"]],
    "/status": lambda t: [t.status_none],
    "/servers": lambda t: [t.admins_only],
    "/new": lambda t: [t.new_confirm],
    "/nope": lambda t: [f"{t.unknown_command.format(command='/nope')}\n\n{t.help}"],
}


@pytest.mark.usefixtures("running")
@pytest.mark.parametrize("texts", [RU, EN], ids=["ru", "en"])
@pytest.mark.parametrize("command", list(QUICK))
async def test_every_quick_command_answers_in_the_senders_language(
    fake_telegram: FakeTelegram, texts: Texts, command: str
) -> None:
    speaks(fake_telegram, KNOWN, texts.language)

    assert await answers(fake_telegram, KNOWN, command) == QUICK[command](texts)


@pytest.mark.usefixtures("running")
@pytest.mark.parametrize("texts", [RU, EN], ids=["ru", "en"])
async def test_notes_and_refusals_are_in_the_senders_language(
    fake_telegram: FakeTelegram, texts: Texts
) -> None:
    speaks(fake_telegram, KNOWN, texts.language)
    first = fake_telegram.inject_message(KNOWN, "hello")
    await handled(fake_telegram, first)
    edited = fake_telegram.inject_edited_message(KNOWN, first["message"]["message_id"], "hi")
    await handled(fake_telegram, edited)
    await handled(fake_telegram, fake_telegram.inject_content(KNOWN, {"sticker": STICKER}))

    assert fake_telegram.chat(KNOWN).texts == [
        texts.keyboard_note,
        texts.edit_not_forwarded,
        texts.only_text,
    ]


@pytest.mark.usefixtures("running")
async def test_a_group_is_told_private_only_in_the_senders_language(
    fake_telegram: FakeTelegram,
) -> None:
    speaks(fake_telegram, KNOWN, "en")

    await handled(fake_telegram, fake_telegram.inject_message(GROUP, "hi bot", user_id=KNOWN))

    assert fake_telegram.chat(GROUP).texts == [EN.private_only]


@pytest.mark.usefixtures("running")
@pytest.mark.parametrize("texts", [RU, EN], ids=["ru", "en"])
async def test_a_stranger_is_rejected_in_their_language(
    fake_telegram: FakeTelegram, texts: Texts
) -> None:
    speaks(fake_telegram, STRANGER, texts.language)

    (rejection,) = await answers(fake_telegram, STRANGER, "hello")

    assert rejection.splitlines() == [
        texts.access_denied,
        texts.access_denied_id.format(telegram_id=STRANGER),
    ]
    request = fake_telegram.chat(STRANGER).sent[-1]["reply_markup"]["inline_keyboard"]
    assert request[0][0]["text"] == texts.access_request_button


@pytest.mark.usefixtures("running")
async def test_a_russian_strangers_rejection_begins_with_the_exact_line(
    fake_telegram: FakeTelegram,
) -> None:
    speaks(fake_telegram, STRANGER, "ru")

    (rejection,) = await answers(fake_telegram, STRANGER, "привет")

    assert rejection.splitlines()[0] == "Доступ запрещён. Обратитесь к администратору."


@pytest.mark.usefixtures("running")
async def test_an_english_users_keyboard_has_english_labels(fake_telegram: FakeTelegram) -> None:
    speaks(fake_telegram, KNOWN, "en-GB")

    await say(fake_telegram, KNOWN, "/help")

    assert keyboard_labels(fake_telegram, KNOWN) == [
        EN.buttons[action] for action in ("projects", "tasks", "help")
    ]
    keyboard = fake_telegram.chat(KNOWN).keyboard
    assert keyboard is not None
    assert keyboard["input_field_placeholder"] == EN.keyboard_placeholder


@pytest.mark.usefixtures("running")
@pytest.mark.parametrize("label", [EN.buttons["help"], RU.buttons["help"]], ids=["en", "ru"])
async def test_a_label_of_either_language_is_its_quick_action(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, label: str
) -> None:
    speaks(fake_telegram, KNOWN, "en")

    assert await answers(fake_telegram, KNOWN, label) == [EN.help]
    assert await queued(redis) == [], "a press is not a message for the assistant"


@pytest.mark.usefixtures("running")
async def test_statuses_and_dates_are_in_the_readers_language(
    fake_telegram: FakeTelegram, fake_api: FakeApi
) -> None:
    speaks(fake_telegram, ADMIN, "en")
    fake_api.add_server("srv-a", status="provisioning", capacity_ram_mb=0)
    task = fake_api.add_task(ADMIN, type="deploy", project_id="p-1")

    (servers,) = await answers(fake_telegram, ADMIN, "/servers")
    (tasks,) = await answers(fake_telegram, ADMIN, "/tasks")

    assert "srv-a</b> — being set up\nRAM: no data · disk: 10 GB of 80 GB (12%)" in servers
    started = datetime.fromisoformat(task["started_at"])
    assert f"deploy</b> — running · <code>{task['id']}</code>" in tasks
    assert tasks.splitlines()[-1] == f"started {i18n.short_datetime(started, 'en')}"


@pytest.mark.usefixtures("running")
async def test_queued_messages_carry_the_senders_language(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    speaks(fake_telegram, KNOWN, "en-US")
    await say(fake_telegram, KNOWN, "hello")
    await say(fake_telegram, KNOWN, "/stop")

    assert [(m.kind, m.language) for m in await queued(redis)] == [
        ("message", "en"),
        ("cancel", "en"),
    ]


@pytest.mark.usefixtures("known_user")
@pytest.mark.parametrize(
    ("default", "texts"), [(None, RU), ("en", EN)], ids=["unset-ru", "DEFAULT_LANGUAGE=en"]
)
async def test_a_language_without_a_catalogue_gets_the_default_language(
    fake_telegram: FakeTelegram, start_ingress: StartIngress, default: str | None, texts: Texts
) -> None:
    await start_ingress(**({"DEFAULT_LANGUAGE": default} if default else {}))
    speaks(fake_telegram, KNOWN, "de")

    assert await answers(fake_telegram, KNOWN, "/help") == [texts.help]
