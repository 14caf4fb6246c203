"""The ingress's answers: sent through the shared sender, in the background, bounded."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis

from services.fakes.api import FakeApi
from services.fakes.telegram import Failure, FakeTelegram
from services.ingress.outbox import Mark, Outbox
from shared.ratelimit import FloodBudget
from shared.sender import Sender
from shared.texts import RU
from tests.plugins.telegram import make_client
from tests.services.ingress.conftest import KNOWN, StartIngress, handled, queued

OTHER = 1003


@pytest.fixture
def other_user(fake_api: FakeApi) -> dict[str, Any]:
    return fake_api.add_user(OTHER, username="bob", user_id=8)


async def confirmed(fake_telegram: FakeTelegram, update: dict[str, Any]) -> None:
    """Confirmed by the ingress (handled and stored), whether or not answered yet."""
    await fake_telegram.wait_for(
        lambda: all(u["update_id"] != update["update_id"] for u in fake_telegram.pending_updates),
        what="update confirmed",
    )


@pytest.mark.usefixtures("known_user", "other_user")
async def test_a_429_on_one_users_answer_holds_up_neither_intake_nor_other_users(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_ingress: StartIngress
) -> None:
    running = await start_ingress()
    fake_telegram.fail_next("sendMessage", Failure.too_many_requests(4), chat_id=KNOWN)
    fake_telegram.inject_message(KNOWN, "/help")
    throttled = await fake_telegram.wait_for_call("sendMessage", where=lambda c: c.status == 429)

    await confirmed(fake_telegram, fake_telegram.inject_message(OTHER, "hello"))
    fake_telegram.inject_message(OTHER, "/help")
    await fake_telegram.wait_for_messages(OTHER, 2)

    assert [m.text for m in await queued(redis)] == ["hello"]
    assert fake_telegram.chat(OTHER).texts == [RU.keyboard_note, RU.help]
    assert fake_telegram.chat(KNOWN).texts == [], "still honouring retry_after"
    await asyncio.wait_for(running.ingress.outbox.join(), 10)
    assert fake_telegram.chat(KNOWN).texts == [RU.help]
    [retried] = [
        c for c in fake_telegram.calls_to("sendMessage") if str(c.params["chat_id"]) == str(KNOWN)
    ][1:]
    assert retried.started - throttled.finished >= 4 * 0.99


@pytest.mark.usefixtures("known_user")
async def test_answers_to_one_chat_go_out_in_the_order_asked(
    fake_telegram: FakeTelegram, start_ingress: StartIngress
) -> None:
    await start_ingress()
    for text in ["/help", "/nope", "/help"]:
        fake_telegram.inject_message(KNOWN, text)
    await handled(fake_telegram, fake_telegram.inject_message(KNOWN, "/start"))

    texts = fake_telegram.chat(KNOWN).texts
    assert len(texts) == 4
    assert texts[0] == texts[2] == texts[3] == RU.help
    assert texts[1].startswith(RU.unknown_command.format(command="/nope"))


async def test_a_chats_backlog_past_its_bound_drops_new_answers_only(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    client = make_client(fake_telegram)
    outbox = Outbox(Sender(client, redis, FloodBudget(global_per_s=1_000)), per_chat=3)
    try:
        # The chat is paused by a 429: its answers wait while more are asked for.
        fake_telegram.fail_next("sendMessage", Failure.too_many_requests(1), chat_id=KNOWN)
        accepted = [outbox.say(KNOWN, f"answer {n}") for n in range(5)]
        other = outbox.say(OTHER, "elsewhere")
        await outbox.join()
    finally:
        await client.close()

    assert accepted == [True, True, True, False, False]
    assert other
    assert fake_telegram.chat(KNOWN).texts == ["answer 0", "answer 1", "answer 2"]
    assert fake_telegram.chat(OTHER).texts == ["elsewhere"]


async def test_an_html_answer_that_telegram_cannot_parse_is_sent_as_its_visible_text(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    client = make_client(fake_telegram)
    outbox = Outbox(Sender(client, redis, FloodBudget(global_per_s=1_000)))
    try:
        fake_telegram.fail_next(
            "sendMessage",
            Failure.error(400, "Bad Request: can't parse entities: unsupported start tag"),
        )
        outbox.say(KNOWN, "<b>Проекты</b>\n1 &lt; 2", html=True)
        await outbox.join()
    finally:
        await client.close()

    assert fake_telegram.chat(KNOWN).texts == ["Проекты\n1 < 2"]


async def test_an_answer_marked_only_if_new_goes_out_once_while_its_key_lives(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    client = make_client(fake_telegram)
    outbox = Outbox(Sender(client, redis, FloodBudget(global_per_s=1_000)))
    mark = Mark("test:mark", 3600, only_if_new=True)
    try:
        assert outbox.say(KNOWN, "first", mark=mark)
        assert outbox.say(KNOWN, "second", mark=mark)
        outbox.say(KNOWN, "unmarked")
        await outbox.join()
    finally:
        await client.close()

    assert fake_telegram.chat(KNOWN).texts == ["first", "unmarked"]
    assert 3500 < await redis.ttl("test:mark") <= 3600


async def test_an_edit_changes_the_message_in_its_place_in_the_chats_order(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    client = make_client(fake_telegram)
    outbox = Outbox(Sender(client, redis, FloodBudget(global_per_s=1_000, chat_per_s=100)))
    fake_telegram.lift_flood_limits()
    try:
        outbox.say(KNOWN, "<b>page 1</b>", html=True)
        await outbox.join()
        [message] = fake_telegram.chat(KNOWN).sent
        buttons = {"inline_keyboard": [[{"text": "▶", "callback_data": "next"}]]}
        assert outbox.edit(
            KNOWN, message["message_id"], "<b>page 2</b>", html=True, reply_markup=buttons
        )
        outbox.say(KNOWN, "after")
        await outbox.join()
    finally:
        await client.close()

    edited, after = fake_telegram.chat(KNOWN).sent
    assert edited["text"] == "page 2"
    assert edited["reply_markup"] == buttons
    assert after["text"] == "after"
    methods = [c.method for c in fake_telegram.calls if c.method != "getMe"]
    assert methods == ["sendMessage", "editMessageText", "sendMessage"]


async def test_an_edit_longer_than_one_message_is_refused(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    client = make_client(fake_telegram)
    outbox = Outbox(Sender(client, redis, FloodBudget(global_per_s=1_000)))
    try:
        assert not outbox.edit(KNOWN, 1, "x " * 5000)
        await outbox.join()
    finally:
        await client.close()

    assert fake_telegram.calls_to("editMessageText") == []
