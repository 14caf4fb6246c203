"""``/stop`` and ``/new`` (issue 15) as the relays act on them, against the fake PO.

The ingress queues both in the user's partition stream like a chat message
(``IncomingMessage.kind``); these tests write them there as it does.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aioredis

from services.fakes.telegram import FakeTelegram
from services.fakes.workers import FakeWorkerManager
from shared import keys
from shared.schemas import STOP_BUTTON_DATA, IncomingMessage, MessageKind, encode_entry
from shared.texts import RU
from tests.services.relay.conftest import (
    StartRelay,
    chat_of,
    incoming_message,
    take_over,
    wait_for_value,
    write_message,
)

USER = 21
CHAT = chat_of(USER)
RESTARTED = RU.restarted.format(cancelled="")


async def write_control(
    redis: aioredis.Redis, user_id: int, kind: MessageKind, confirm_id: int = 0
) -> None:
    """What the ingress queues for ``/stop`` (``cancel``) or a confirmed ``/new`` (``restart``)."""
    base = incoming_message(user_id, "/stop" if kind == "cancel" else "/new")
    message = IncomingMessage(
        **{**_fields(base), "kind": kind, "confirm_id": confirm_id, "message_id": confirm_id or 1}
    )
    await redis.xadd(keys.incoming(keys.partition_of(user_id)), encode_entry(message))  # type: ignore[arg-type]


def _fields(message: IncomingMessage) -> dict[str, Any]:
    return {name: getattr(message, name) for name in message.__struct_fields__}


def shown(fake_telegram: FakeTelegram) -> list[str]:
    return fake_telegram.chat(CHAT).texts


async def test_stop_hides_the_rest_of_a_streamed_reply_and_the_next_message_is_answered(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_telegram.lift_flood_limits()
    # A PO that knows nothing of cancel: it writes every snapshot and its final anyway.
    fake_workers.script(USER, chunks=5, reply_delay=0.3, honours_cancel=False)
    await start_relay()

    await write_message(redis, USER, "a long answer please")
    await fake_telegram.wait_for(lambda: fake_telegram.chat(CHAT).draft_history, timeout=10)
    await write_control(redis, USER, "cancel")
    await fake_telegram.wait_for_messages(CHAT, 1, timeout=10)
    drafts_at_stop = len(fake_telegram.chat(CHAT).draft_history)
    await write_message(redis, USER, "next")
    await fake_telegram.wait_for_messages(CHAT, 2, timeout=15)

    assert shown(fake_telegram) == [RU.stopped, "echo: next"]
    later = fake_telegram.chat(CHAT).draft_history[drafts_at_stop:]
    assert [d.text for d in later if not "echo: next".startswith(d.text)] == [], (
        "a snapshot of the stopped reply was shown after /stop"
    )
    assert len(fake_workers.outputs_for(fake_workers.inputs[0].request_id)) == 5


async def test_the_po_gets_one_cancel_naming_the_request_being_answered(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_telegram.lift_flood_limits()
    fake_workers.script(USER, think_s=30)
    await start_relay()

    await write_message(redis, USER, "think hard")
    await write_message(redis, USER, "and then this")
    await fake_workers.wait_for(lambda: len(fake_workers.inputs) == 1, within=10)
    await write_control(redis, USER, "cancel")
    await fake_telegram.wait_for_messages(CHAT, 1, timeout=10)

    await fake_workers.wait_for(lambda: len(fake_workers.cancels) == 1)
    (cancel,) = fake_workers.cancels
    assert (cancel.type, cancel.text) == ("cancel", "/stop")
    assert cancel.cancels == fake_workers.inputs[0].request_id
    assert shown(fake_telegram) == [RU.stopped]


async def test_stop_with_nothing_running_says_so_and_tells_the_po_nothing(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    await start_relay()
    await write_message(redis, USER, "hello")
    await fake_telegram.wait_for_messages(CHAT, 1, timeout=10)

    await write_control(redis, USER, "cancel")
    await fake_telegram.wait_for_messages(CHAT, 2, timeout=10)

    assert shown(fake_telegram) == ["echo: hello", RU.nothing_to_stop]
    assert fake_workers.cancels == []


async def test_stop_ends_typing_at_once_when_nothing_else_is_awaited(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_workers.script(USER, think_s=30)
    running = await start_relay()
    await write_message(redis, USER, "think hard")
    await fake_telegram.wait_for(lambda: fake_telegram.chat(CHAT).actions, timeout=10)

    await write_control(redis, USER, "cancel")
    await fake_telegram.wait_for_messages(CHAT, 1, timeout=10)

    assert not running.relay.typing.waiting(USER)
    partition = keys.partition_of(USER)
    assert await redis.hget(f"bot:typing:{partition}", str(USER)) is None


async def test_a_stop_is_kept_by_the_relay_that_takes_the_user_over(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_telegram.lift_flood_limits()
    fake_workers.script(USER, think_s=3, honours_cancel=False)
    first = await start_relay("relay-a")
    await write_message(redis, USER, "slow one")
    await fake_workers.wait_for(lambda: len(fake_workers.inputs) == 1, within=10)
    await write_control(redis, USER, "cancel")
    await fake_telegram.wait_for_messages(CHAT, 1, timeout=10)

    await take_over(first, start_relay, USER)
    await fake_workers.wait_for(lambda: len(fake_workers.outputs) == 1, within=10)
    await write_message(redis, USER, "after")
    await fake_telegram.wait_for_messages(CHAT, 2, timeout=15)

    assert shown(fake_telegram) == [RU.stopped, "echo: after"]


@pytest.mark.parametrize("po_contract", ["worker-streams"], indirect=False)
async def test_stop_in_worker_streams_hides_the_reply_without_a_cancel_entry(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_telegram.lift_flood_limits()
    fake_workers.script(USER, think_s=2)
    await start_relay()
    await write_message(redis, USER, "slow one")
    await fake_workers.wait_for(lambda: len(fake_workers.inputs) == 1, within=10)

    await write_control(redis, USER, "cancel")
    await fake_telegram.wait_for_messages(CHAT, 1, timeout=10)
    await write_message(redis, USER, "after")
    await fake_telegram.wait_for_messages(CHAT, 2, timeout=15)

    assert shown(fake_telegram) == [RU.stopped, "echo: after"]
    assert fake_workers.cancels == [], "the wrapper would run '/stop' as a task"


async def test_new_pressed_twice_on_two_relays_deletes_once_and_the_next_message_spawns_once(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_telegram.lift_flood_limits()
    first = await start_relay("relay-a")
    await start_relay("relay-b")
    await write_message(redis, USER, "hello")
    await fake_telegram.wait_for_messages(CHAT, 1, timeout=10)

    await write_control(redis, USER, "restart", confirm_id=40)
    await write_control(redis, USER, "restart", confirm_id=40)
    await fake_telegram.wait_for_messages(CHAT, 2, timeout=10)
    await first.stopped()  # the other relay takes over: the press is not acted on again
    await write_control(redis, USER, "restart", confirm_id=40)
    await write_message(redis, USER, "fresh start")
    await fake_telegram.wait_for_messages(CHAT, 3, timeout=20)

    assert shown(fake_telegram) == ["echo: hello", RESTARTED, "echo: fresh start"]
    assert [d.worker_id for d in fake_workers.deletes] == [f"po-{USER}"]
    assert len(fake_workers.commands) == 2, "one create before, one after"


async def test_new_cancels_the_unanswered_messages_and_says_how_many(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_telegram.lift_flood_limits()
    fake_workers.script(USER, think_s=2, honours_cancel=False)
    await start_relay()
    for text in ("one", "two", "three"):
        await write_message(redis, USER, text)
    await fake_workers.wait_for(lambda: len(fake_workers.inputs) == 1, within=10)

    await write_control(redis, USER, "restart", confirm_id=7)
    await fake_telegram.wait_for_messages(CHAT, 1, timeout=10)
    fake_workers.script(USER)
    await write_message(redis, USER, "four")
    await fake_telegram.wait_for_messages(CHAT, 2, timeout=20)

    cancelled = RU.restart_cancelled.format(count=3)
    assert shown(fake_telegram) == [RU.restarted.format(cancelled=cancelled), "echo: four"]
    await wait_for_value(lambda: redis.exists(keys.session(USER)), 1)


async def test_a_long_wait_shows_one_working_note_with_a_stop_button_deleted_at_the_reply(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_telegram.lift_flood_limits()
    fake_workers.script(USER, think_s=2.5)
    await start_relay(WORKING_NOTE_AFTER_S="0.5")

    await write_message(redis, USER, "take your time")
    (note,) = await fake_telegram.wait_for_messages(CHAT, 1, timeout=10)
    buttons = note["reply_markup"]["inline_keyboard"]
    await fake_telegram.wait_for(lambda: fake_telegram.chat(CHAT).deleted, timeout=10)
    await fake_telegram.wait_for(lambda: shown(fake_telegram), timeout=10)

    assert note["text"] == RU.working_note.format(minutes=1)
    assert buttons == [[{"text": RU.working_note_stop, "callback_data": STOP_BUTTON_DATA}]]
    assert shown(fake_telegram) == ["echo: take your time"]
    assert [m["message_id"] for m in fake_telegram.chat(CHAT).deleted] == [note["message_id"]]


async def test_a_quick_reply_gets_no_working_note(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    await start_relay(WORKING_NOTE_AFTER_S="5")

    await write_message(redis, USER, "quick")
    await fake_telegram.wait_for_messages(CHAT, 1, timeout=10)

    assert shown(fake_telegram) == ["echo: quick"]
    assert fake_telegram.calls_to("deleteMessage") == []


@pytest.mark.parametrize(("policy", "steered"), [("steer", True), ("queue", None)])
async def test_a_message_sent_while_the_po_works_is_marked_steer_only_with_busy_policy_steer(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
    policy: str,
    steered: bool | None,
) -> None:
    fake_workers.script(USER, think_s=1)
    await start_relay(BUSY_POLICY=policy)

    await write_message(redis, USER, "first")
    await write_message(redis, USER, "meanwhile")
    await fake_workers.wait_for(lambda: len(fake_workers.inputs) == 2, within=15)

    first, second = fake_workers.inputs
    assert (first.type, first.steer) == (None, None)
    assert second.steer is steered
    assert second.type == ("message" if steered else None)
