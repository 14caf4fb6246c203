"""Access requests end to end: ingress, notifier and relay as real processes.

The stranger writes, presses "🙋 Запросить доступ", both admins get a card,
one approves with a tap, the stranger is told and is then served like any
known user; both cards show who decided. Everything is read from what the
fake Telegram shows each person and what the fake API was asked.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from services.fakes.api import FakeApi
from services.fakes.telegram import FakeTelegram
from services.fakes.workers import FakeWorkerManager
from shared.texts import RU
from tests.plugins.processes import StartService

ADMIN, ENV_ADMIN, STRANGER = 1001, 1002, 6666
REJECTION = "Доступ запрещён. Обратитесь к администратору."


def card(fake_telegram: FakeTelegram, admin: int) -> dict[str, Any] | None:
    """The admin's card as they see it now (edits included)."""
    chat = fake_telegram.chat(admin)
    return next((m for m in chat.messages.values() if "Запрос доступа" in m.get("text", "")), None)


def approved_card(fake_telegram: FakeTelegram, admin: int) -> dict[str, Any] | None:
    shown = card(fake_telegram, admin)
    return shown if shown is not None and "✅ Одобрено: Ада" in shown["text"] else None


def granted(fake_telegram: FakeTelegram) -> bool:
    return any(t.startswith("Доступ открыт") for t in fake_telegram.chat(STRANGER).texts)


def helped(fake_telegram: FakeTelegram) -> bool:
    return any("/projects" in t for t in fake_telegram.chat(STRANGER).texts)


def labels(message: dict[str, Any]) -> list[str]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [button["text"] for row in rows for button in row]


async def test_a_stranger_asks_an_admin_approves_and_the_stranger_is_then_served(
    fake_telegram: FakeTelegram,
    fake_api: FakeApi,
    fake_workers: FakeWorkerManager,
    start_service: StartService,
) -> None:
    fake_telegram.lift_flood_limits()
    fake_api.add_user(ADMIN, first_name="Ада", is_admin=True, user_id=1)
    fake_telegram.user(STRANGER)["first_name"] = "Грейс"
    fake_telegram.user(ADMIN)["first_name"] = "Ада"
    start_service("ingress", ADMIN_TELEGRAM_IDS=str(ENV_ADMIN))
    start_service("notifier", ADMIN_TELEGRAM_IDS=str(ENV_ADMIN))
    start_service("relay")

    fake_telegram.inject_message(STRANGER, "Здравствуйте, я из команды Ады")
    (rejection,) = await fake_telegram.wait_for_messages(STRANGER, 1, timeout=30)
    fake_telegram.press_button(STRANGER, RU.access_request_button)
    await fake_telegram.wait_for(lambda: card(fake_telegram, ADMIN), timeout=30)
    shown = await fake_telegram.wait_for(lambda: card(fake_telegram, ENV_ADMIN), timeout=30)
    fake_telegram.press_button(ADMIN, "✅ Одобрить")
    await fake_telegram.wait_for(lambda: granted(fake_telegram), timeout=30)
    fake_telegram.inject_message(STRANGER, "привет")
    await fake_workers.wait_for(lambda: len(fake_workers.inputs) == 1, within=60)

    assert rejection["text"].startswith(REJECTION)
    assert labels(rejection) == [RU.access_request_button]
    assert RU.access_request_sent in fake_telegram.chat(STRANGER).texts
    assert "Здравствуйте, я из команды Ады" in shown["text"]
    assert labels(shown) == ["✅ Одобрить", "❌ Отклонить"]
    posts = [r for r in fake_api.requests if r.method == "POST"]
    assert [(r.path, r.headers["X-Telegram-ID"]) for r in posts] == [("/api/users/", str(ADMIN))]
    assert fake_api.user(STRANGER) is not None
    assert [m.text for m in fake_workers.inputs] == ["привет"], "nothing from before approval"
    # The ingress answers a chat in order: once /help's answer is there, a keyboard
    # note for "привет" would be too.
    fake_telegram.inject_message(STRANGER, "/help")
    await fake_telegram.wait_for(lambda: helped(fake_telegram), timeout=30)
    assert RU.keyboard_note not in fake_telegram.chat(STRANGER).texts, "the keyboard came already"
    for admin in (ADMIN, ENV_ADMIN):
        decided = await fake_telegram.wait_for(partial(approved_card, fake_telegram, admin), 30)
        assert labels(decided) == []
