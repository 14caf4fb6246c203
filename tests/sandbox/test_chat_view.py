"""The chat as the page shows it: "typing…" lasts as long as Telegram would show it."""

from __future__ import annotations

from pathlib import Path

from services.fakes.telegram import Call, ChatAction, ManualClock
from services.sandbox.app import Sandbox
from services.sandbox.settings import SandboxSettings

CHAT = 100002


def sandbox_at(clock: ManualClock, tmp_path: Path) -> Sandbox:
    sandbox = Sandbox(SandboxSettings(), tmp_path)  # not started: only its chat view is used
    sandbox.telegram.clock = clock
    return sandbox


def test_typing_shows_for_five_seconds_after_the_action(tmp_path: Path) -> None:
    clock = ManualClock()
    sandbox = sandbox_at(clock, tmp_path)
    sandbox.telegram.chat(CHAT).actions.append(ChatAction("typing", clock()))

    clock.advance(2)
    assert sandbox.chat(CHAT)["typing_s"] == 3
    clock.advance(4)
    assert sandbox.chat(CHAT)["typing_s"] == 0


def test_a_message_from_the_bot_ends_typing_at_once(tmp_path: Path) -> None:
    clock = ManualClock()
    sandbox = sandbox_at(clock, tmp_path)
    sandbox.telegram.chat(CHAT).actions.append(ChatAction("typing", clock()))
    clock.advance(1)

    sent = Call(1, "sendMessage", {}, clock(), clock(), status=200, chat_id=CHAT)
    sandbox.telegram.calls.append(sent)

    assert sandbox.chat(CHAT)["typing_s"] == 0


def test_a_message_to_another_chat_does_not_end_typing(tmp_path: Path) -> None:
    clock = ManualClock()
    sandbox = sandbox_at(clock, tmp_path)
    sandbox.telegram.chat(CHAT).actions.append(ChatAction("typing", clock()))

    sent = Call(1, "sendMessage", {}, clock(), clock(), status=200, chat_id=CHAT + 1)
    sandbox.telegram.calls.append(sent)

    assert sandbox.chat(CHAT)["typing_s"] == 5
