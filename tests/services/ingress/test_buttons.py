"""The quick-action keyboard: shown to known users only, and a press is its command."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aioredis

from services.fakes.api import FakeApi
from services.fakes.telegram import Call, FakeTelegram
from services.ingress.keyboard_sessions import LOCAL_S, session_key
from shared.texts import RU
from tests.services.ingress.conftest import (
    ADMIN,
    KNOWN,
    STRANGER,
    RunningIngress,
    StartIngress,
    handled,
    queued,
)

LABELS = [RU.buttons[action] for action in ("projects", "servers", "tasks", "help")]
"""An admin's keyboard."""
USER_LABELS = [RU.buttons[action] for action in ("projects", "tasks", "help")]
"""Anyone else's: no servers."""


@pytest.fixture
async def running(
    fake_api: FakeApi, known_user: dict[str, Any], start_ingress: StartIngress
) -> RunningIngress:
    fake_api.add_user(ADMIN, username="root", is_admin=True)
    return await start_ingress()


async def say(fake_telegram: FakeTelegram, chat_id: int, text: str) -> list[Call]:
    """Write ``text`` as the chat's user; the ``sendMessage`` calls it led to."""
    before = len(fake_telegram.calls)
    await handled(fake_telegram, fake_telegram.inject_message(chat_id, text))
    return [call for call in fake_telegram.calls[before:] if call.method == "sendMessage"]


def keyboard_labels(fake_telegram: FakeTelegram, chat_id: int) -> list[str] | None:
    """The labels of the reply keyboard on the user's screen, or None without one."""
    keyboard = fake_telegram.chat(chat_id).keyboard
    if keyboard is None:
        return None
    return [button["text"] for row in keyboard["keyboard"] for button in row]


@pytest.mark.usefixtures("running")
@pytest.mark.parametrize("command", ["/start", "/help"])
async def test_start_and_help_give_a_known_user_the_quick_action_keyboard(
    fake_telegram: FakeTelegram, command: str
) -> None:
    await say(fake_telegram, KNOWN, command)

    assert keyboard_labels(fake_telegram, KNOWN) == USER_LABELS
    keyboard = fake_telegram.chat(KNOWN).keyboard
    assert keyboard is not None
    assert [len(row) for row in keyboard["keyboard"]] == [2, 1]
    assert keyboard["is_persistent"] is True
    assert keyboard["resize_keyboard"] is True


@pytest.mark.usefixtures("running")
@pytest.mark.parametrize("command", ["/start", "/help", "hello"])
async def test_only_an_admins_keyboard_offers_servers(
    fake_telegram: FakeTelegram, command: str
) -> None:
    await say(fake_telegram, KNOWN, command)
    await say(fake_telegram, ADMIN, command)

    assert keyboard_labels(fake_telegram, KNOWN) == USER_LABELS
    assert keyboard_labels(fake_telegram, ADMIN) == LABELS
    keyboard = fake_telegram.chat(ADMIN).keyboard
    assert keyboard is not None
    assert [len(row) for row in keyboard["keyboard"]] == [2, 2]


@pytest.mark.usefixtures("running")
async def test_a_user_who_types_the_servers_label_is_answered_like_servers(
    fake_telegram: FakeTelegram, fake_api: FakeApi, redis: aioredis.Redis
) -> None:
    sent = await say(fake_telegram, KNOWN, RU.buttons["servers"])

    assert [call.params["text"] for call in sent] == [RU.admins_only]
    assert len(fake_api.requests_to("/api/servers/")) == 1
    assert await queued(redis) == []


@pytest.mark.usefixtures("running")
async def test_a_stranger_gets_only_the_rejection_and_no_keyboard(
    fake_telegram: FakeTelegram, fake_api: FakeApi
) -> None:
    sent = await say(fake_telegram, STRANGER, "/start")
    sent += await say(fake_telegram, STRANGER, RU.buttons["projects"])

    assert [call.params["text"] for call in sent] == [
        f"{RU.access_denied}\n{RU.access_denied_id.format(telegram_id=STRANGER)}"
    ]
    # No reply keyboard; the access request's inline button (test_access_stranger.py).
    assert "keyboard" not in sent[0].params["reply_markup"]
    assert keyboard_labels(fake_telegram, STRANGER) is None
    assert fake_api.requests_to("/api/projects/") == []


async def test_a_removed_user_loses_the_keyboard_with_the_rejection(
    fake_telegram: FakeTelegram,
    fake_api: FakeApi,
    known_user: dict[str, Any],
    running: RunningIngress,
) -> None:
    await say(fake_telegram, KNOWN, "/start")
    fake_api.users.remove(known_user)
    running.clock.advance(61)  # past AUTH_CACHE_TTL_S

    await say(fake_telegram, KNOWN, RU.buttons["tasks"])

    assert keyboard_labels(fake_telegram, KNOWN) is None
    assert fake_api.requests_to("/api/tasks/") == []


@pytest.mark.usefixtures("running")
async def test_the_first_chat_message_of_a_session_brings_the_keyboard_once(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    first = await say(fake_telegram, KNOWN, "hello")
    second = await say(fake_telegram, KNOWN, "and another thing")

    assert [call.params["text"] for call in first] == [RU.keyboard_note]
    assert second == []
    assert keyboard_labels(fake_telegram, KNOWN) == USER_LABELS
    assert [m.text for m in await queued(redis)] == ["hello", "and another thing"]
    ttl = await redis.ttl(session_key(KNOWN))
    assert 23 * 3600 < ttl <= 24 * 3600


async def test_a_session_started_before_a_restart_is_not_started_again(
    fake_telegram: FakeTelegram,
    redis: aioredis.Redis,
    known_user: dict[str, Any],
    start_ingress: StartIngress,
) -> None:
    # What an earlier ingress (or another webhook replica) left behind.
    await redis.set(session_key(KNOWN), 1, ex=3600)
    await start_ingress()

    assert await say(fake_telegram, KNOWN, "hello again") == []


@pytest.mark.usefixtures("running")
async def test_a_new_session_brings_the_keyboard_again(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, running: RunningIngress
) -> None:
    await say(fake_telegram, KNOWN, "hello")
    await redis.delete(session_key(KNOWN))  # the session's TTL ran out
    running.clock.advance(LOCAL_S + 1)

    sent = await say(fake_telegram, KNOWN, "hello after a day")

    assert [call.params["text"] for call in sent] == [RU.keyboard_note]


@pytest.mark.usefixtures("running")
async def test_help_starts_a_session_so_the_next_chat_message_gets_no_note(
    fake_telegram: FakeTelegram, running: RunningIngress
) -> None:
    await say(fake_telegram, KNOWN, "/help")
    running.clock.advance(LOCAL_S + 1)  # only Redis remembers now

    assert await say(fake_telegram, KNOWN, "hello") == []


@pytest.mark.usefixtures("running")
@pytest.mark.parametrize(
    ("action", "command"),
    [("projects", "/projects"), ("servers", "/servers"), ("tasks", "/tasks"), ("help", "/help")],
)
async def test_a_button_makes_the_same_api_call_and_answer_as_its_command_and_skips_the_po(
    fake_telegram: FakeTelegram,
    fake_api: FakeApi,
    redis: aioredis.Redis,
    action: str,
    command: str,
) -> None:
    fake_api.add_project(ADMIN, "platform", description="it", repository_url="https://git/p")
    fake_api.add_server("srv-alpha")
    fake_api.add_task(ADMIN, type="deploy")
    await say(fake_telegram, ADMIN, "/start")  # authenticated and cached: only the action asks

    typed_from = len(fake_api.requests)
    typed = await say(fake_telegram, ADMIN, command)
    pressed_from = len(fake_api.requests)
    pressed = await say(fake_telegram, ADMIN, RU.buttons[action])

    def api_calls(start: int, end: int | None = None) -> list[tuple[str, dict[str, str], str]]:
        requests = fake_api.requests[start:end]
        return [(r.path, r.query, r.headers["X-Telegram-ID"]) for r in requests]

    assert api_calls(pressed_from) == api_calls(typed_from, pressed_from)
    if action != "help":
        assert api_calls(pressed_from)[-1][2] == str(ADMIN)
    assert [call.params for call in pressed] == [call.params for call in typed]
    assert len(pressed) == 1
    assert await queued(redis) == []


@pytest.mark.usefixtures("running")
@pytest.mark.parametrize(
    "text",
    [
        "Проекты",
        "покажи мои проекты",
        f"{RU.buttons['projects']} и серверы",
        f" {RU.buttons['projects']}",
        RU.buttons["projects"].upper(),
    ],
)
async def test_a_chat_message_that_contains_a_buttons_word_goes_to_the_po(
    fake_telegram: FakeTelegram, fake_api: FakeApi, redis: aioredis.Redis, text: str
) -> None:
    await say(fake_telegram, KNOWN, text)

    assert [m.text for m in await queued(redis)] == [text]
    assert fake_api.requests_to("/api/projects/") == []
