"""Buttons a PO offers, end to end: ingress and relay as real processes, the user's taps.

What the user sees is read from the fake Telegram's record of the chat; what
the PO got, from the fake PO's record.
"""

from __future__ import annotations

from typing import Any

from services.fakes.api import FakeApi
from services.fakes.telegram import FakeTelegram
from services.fakes.workers import FakeWorkerManager
from shared.texts import RU
from tests.plugins.processes import StartService

KNOWN = 1001
USER_ID = 7
DATA = ["approve:" + "a" * 92, "reject:" + "r" * 93, "later:" + "l" * 94]
"""Three buttons, 300 bytes of data between them: each past Telegram's 64 bytes."""
BUTTONS = [
    [{"text": "Approve", "data": DATA[0]}, {"text": "Reject", "data": DATA[1]}],
    [{"text": "Later", "data": DATA[2]}],
]


def question_shown(fake_telegram: FakeTelegram) -> dict[str, Any] | None:
    return next((m for m in fake_telegram.chat(KNOWN).sent if m["text"] == "echo: deploy?"), None)


def callback_data(message: dict[str, Any], label: str) -> str:
    buttons = [b for row in message["reply_markup"]["inline_keyboard"] for b in row]
    return str(next(b["callback_data"] for b in buttons if b["text"] == label))


def edited(fake_telegram: FakeTelegram, message: dict[str, Any]) -> dict[str, Any] | None:
    """``message`` as the user sees it now, once it was edited."""
    now = fake_telegram.chat(KNOWN).messages[message["message_id"]]
    return now if "edit_date" in now else None


async def answer_to(fake_telegram: FakeTelegram, update: dict[str, Any]) -> str:
    """The text a press was answered with (``answerCallbackQuery``)."""
    query_id = update["callback_query"]["id"]

    def answered() -> list[dict[str, Any]]:
        return [a for a in fake_telegram.callback_answers if a["callback_query_id"] == query_id]

    (answer,) = await fake_telegram.wait_for(answered, timeout=30)
    return str(answer.get("text") or "")


async def test_a_press_reaches_the_po_in_order_the_keyboard_becomes_the_label_and_no_replay_counts(
    fake_telegram: FakeTelegram,
    fake_api: FakeApi,
    fake_workers: FakeWorkerManager,
    start_service: StartService,
) -> None:
    fake_api.add_user(KNOWN, user_id=USER_ID)
    fake_telegram.lift_flood_limits()
    fake_workers.script(USER_ID, buttons=BUTTONS)
    start_service("ingress")
    start_service("relay")
    fake_telegram.inject_message(KNOWN, "deploy?")
    question = await fake_telegram.wait_for(lambda: question_shown(fake_telegram), timeout=30)
    approve = callback_data(question, "Approve")

    fake_telegram.inject_message(KNOWN, "one more thing")
    pressed = fake_telegram.press_button(KNOWN, "Approve", message_id=question["message_id"])
    await fake_workers.wait_for(lambda: len(fake_workers.inputs) == 3, within=30)
    shown = await fake_telegram.wait_for(lambda: edited(fake_telegram, question), timeout=30)
    replayed = fake_telegram.inject_callback_query(
        KNOWN, approve, message_id=question["message_id"]
    )
    forged = fake_telegram.inject_callback_query(
        KNOWN, approve[:-1] + "2", message_id=question["message_id"]
    )

    assert await answer_to(fake_telegram, pressed) == ""
    assert [m.text for m in fake_workers.inputs] == ["deploy?", "one more thing", "Approve"]
    (press,) = fake_workers.buttons
    assert (press.reply_to, press.data) == (fake_workers.inputs[0].request_id, DATA[0])
    assert shown["text"] == "echo: deploy?\n\n→ Approve"
    assert "reply_markup" not in shown
    assert await answer_to(fake_telegram, replayed) == RU.po_button_expired
    assert await answer_to(fake_telegram, forged) == RU.po_button_expired
    await fake_telegram.wait_for(lambda: "echo: Approve" in fake_telegram.chat(KNOWN).texts, 30)
    assert len(fake_workers.buttons) == 1
