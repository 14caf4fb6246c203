"""Conversation control end to end: ingress and relay as real processes, the user's taps.

What the user sees is read from the fake Telegram's record of the chat.
"""

from __future__ import annotations

from services.fakes.api import FakeApi
from services.fakes.telegram import FakeTelegram
from services.fakes.workers import FakeWorkerManager
from shared.texts import RU
from tests.plugins.processes import StartService

KNOWN = 1001
USER_ID = 7


async def started(start_service: StartService) -> None:
    """Ingress and relay up: on a loaded machine a start alone can take many seconds."""
    ingress = start_service("ingress")
    relay = start_service("relay")
    await ingress.wait_for_event("polling_started", timeout=90)
    await relay.wait_for_event("relay_started", timeout=90)


def bot_texts(fake_telegram: FakeTelegram) -> list[str]:
    """What the bot wrote in the chat, but the keyboard's note (sent on a session's start)."""
    return [t for t in fake_telegram.chat(KNOWN).texts if t != RU.keyboard_note]


async def test_the_stop_button_of_a_streamed_reply_stops_it_and_the_next_message_is_answered(
    fake_telegram: FakeTelegram,
    fake_api: FakeApi,
    fake_workers: FakeWorkerManager,
    start_service: StartService,
) -> None:
    fake_api.add_user(KNOWN, user_id=USER_ID)
    fake_telegram.lift_flood_limits()
    fake_workers.script(USER_ID, chunks=6, reply_delay=0.4, honours_cancel=False)
    await started(start_service)

    fake_telegram.inject_message(KNOWN, "a long story")
    draft = await fake_telegram.wait_for(
        lambda: next(iter(fake_telegram.chat(KNOWN).drafts.values()), None), timeout=30
    )
    fake_telegram.stop_draft(KNOWN, draft.draft_id)
    await fake_telegram.wait_for(lambda: RU.stopped in bot_texts(fake_telegram), timeout=30)
    await fake_workers.wait_for(lambda: len(fake_workers.cancels) == 1, within=30)
    fake_workers.script(USER_ID)
    fake_telegram.inject_message(KNOWN, "short one")
    await fake_telegram.wait_for(lambda: "echo: short one" in bot_texts(fake_telegram), timeout=30)
    await fake_workers.wait_for(lambda: len(fake_workers.outputs) == 7, within=30)

    assert bot_texts(fake_telegram) == [RU.stopped, "echo: short one"]
    assert fake_workers.cancels[0].cancels == fake_workers.inputs[0].request_id


async def test_new_confirmed_twice_starts_one_fresh_assistant(
    fake_telegram: FakeTelegram,
    fake_api: FakeApi,
    fake_workers: FakeWorkerManager,
    start_service: StartService,
) -> None:
    fake_api.add_user(KNOWN, user_id=USER_ID)
    fake_telegram.lift_flood_limits()
    await started(start_service)
    fake_telegram.inject_message(KNOWN, "hello")
    await fake_telegram.wait_for(lambda: "echo: hello" in bot_texts(fake_telegram), timeout=30)

    fake_telegram.inject_message(KNOWN, "/new")
    question = await fake_telegram.wait_for(
        lambda: next(
            (m for m in fake_telegram.chat(KNOWN).sent if m["text"] == RU.new_confirm), None
        ),
        timeout=30,
    )
    (yes, _no) = question["reply_markup"]["inline_keyboard"][0]
    for _ in range(2):  # a double tap: both presses leave before the buttons go
        fake_telegram.inject_callback_query(
            KNOWN, yes["callback_data"], message_id=question["message_id"]
        )
    restarted = RU.restarted.format(cancelled="")
    await fake_telegram.wait_for(lambda: restarted in bot_texts(fake_telegram), timeout=30)
    fake_telegram.inject_message(KNOWN, "again")
    await fake_telegram.wait_for(lambda: "echo: again" in bot_texts(fake_telegram), timeout=30)

    assert bot_texts(fake_telegram) == ["echo: hello", RU.new_confirm, restarted, "echo: again"]
    assert len(fake_workers.deletes) == 1
    assert len(fake_workers.commands) == 2


async def test_eyes_go_on_chat_messages_only_never_on_quick_commands_or_strangers(
    fake_telegram: FakeTelegram,
    fake_api: FakeApi,
    fake_workers: FakeWorkerManager,
    start_service: StartService,
) -> None:
    stranger = 666
    fake_api.add_user(KNOWN, user_id=USER_ID)
    fake_telegram.lift_flood_limits()
    # A PO at work for a while: the 👀 is best effort, and a reply that comes
    # before a slot is free for it (the keyboard's note took the chat's second) skips it.
    fake_workers.script(USER_ID, think_s=4)
    await started(start_service)

    fake_telegram.inject_message(stranger, "let me in")
    fake_telegram.inject_message(KNOWN, "/projects")
    await fake_telegram.wait_for_messages(stranger, 1, timeout=30)
    await fake_telegram.wait_for_messages(KNOWN, 1, timeout=30)
    chat = fake_telegram.inject_message(KNOWN, "hello")["message"]["message_id"]
    await fake_telegram.wait_for_reaction(KNOWN, chat, "👀", timeout=30)
    await fake_telegram.wait_for(lambda: "echo: hello" in bot_texts(fake_telegram), timeout=30)
    await fake_telegram.wait_for_reaction(KNOWN, chat, None, timeout=30)

    calls = fake_telegram.calls_to("setMessageReaction")
    assert {(c.params["chat_id"], c.params["message_id"]) for c in calls} == {(KNOWN, chat)}
