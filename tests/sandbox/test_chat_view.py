"""The chat as the page shows it: "typing…" lasts as long as Telegram would show it, and the
reply keyboard the bot left under the input."""

from __future__ import annotations

from pathlib import Path

from services.fakes.telegram import Call, ChatAction, FormattedText, ManualClock
from services.fakes.telegram.wire import encode
from services.sandbox.app import BOT_NAME, BOT_USERNAME, Sandbox
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


def test_the_reply_keyboard_is_shown_until_the_bot_removes_it(tmp_path: Path) -> None:
    sandbox = sandbox_at(ManualClock(), tmp_path)
    markup = {"keyboard": [[{"text": "A"}, {"text": "B"}], [{"text": "C"}]], "is_persistent": True}
    assert sandbox.chat(CHAT)["keyboard"] is None

    sandbox.telegram.post_bot_message(CHAT, FormattedText("pick"), reply_markup=markup)
    sandbox.telegram.post_bot_message(CHAT, FormattedText("no markup, keyboard stays"))
    assert sandbox.chat(CHAT)["keyboard"] == markup

    removal = {"remove_keyboard": True}
    sandbox.telegram.post_bot_message(CHAT, FormattedText("gone"), reply_markup=removal)
    assert sandbox.chat(CHAT)["keyboard"] is None


def test_the_chat_view_names_the_bots_last_action(tmp_path: Path) -> None:
    clock = ManualClock()
    sandbox = sandbox_at(clock, tmp_path)
    assert sandbox.chat(CHAT)["action"] is None

    sandbox.telegram.chat(CHAT).actions.append(ChatAction("upload_photo", clock()))

    assert (sandbox.chat(CHAT)["action"], sandbox.chat(CHAT)["typing_s"]) == ("upload_photo", 5)


def test_a_photo_from_the_bot_ends_its_sending_a_photo_action_at_once(tmp_path: Path) -> None:
    clock = ManualClock()
    sandbox = sandbox_at(clock, tmp_path)
    sandbox.telegram.chat(CHAT).actions.append(ChatAction("upload_photo", clock()))
    clock.advance(1)
    assert sandbox.chat(CHAT)["typing_s"] == 4

    sent = Call(1, "sendPhoto", {}, clock(), clock(), status=200, chat_id=CHAT)
    sandbox.telegram.calls.append(sent)

    assert sandbox.chat(CHAT)["typing_s"] == 0


def test_the_chat_names_the_bot_and_offers_the_menu_in_the_person_s_language(
    tmp_path: Path,
) -> None:
    sandbox = sandbox_at(ManualClock(), tmp_path)
    sandbox.telegram.user(CHAT)["language_code"] = "en"
    default = encode({"type": "default"}).decode()
    sandbox.telegram.commands[(default, "")] = [{"command": "help", "description": "Справка"}]
    sandbox.telegram.commands[(default, "en")] = [{"command": "help", "description": "Help"}]

    chat = sandbox.chat(CHAT)

    assert chat["bot"] == {"first_name": BOT_NAME, "username": BOT_USERNAME}
    assert chat["language_code"] == "en"
    assert chat["menu"] == [{"command": "help", "description": "Help"}]
