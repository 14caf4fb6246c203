"""The ingress's answers: sent through the shared sender, in the background, bounded."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis

from services.fakes.api import FakeApi
from services.fakes.telegram import Failure, FakeTelegram
from services.ingress.outbox import Outbox
from shared.ratelimit import FloodBudget
from shared.sender import Sender
from shared.texts import RU
from tests.plugins.telegram import make_bot
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
    await fake_telegram.wait_for_messages(OTHER)

    assert [m.text for m in await queued(redis)] == ["hello"]
    assert fake_telegram.chat(OTHER).texts == [RU.help]
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
    bot = make_bot(fake_telegram)
    outbox = Outbox(Sender(bot, redis, FloodBudget(global_per_s=1_000)), per_chat=3)
    try:
        # The chat is paused by a 429: its answers wait while more are asked for.
        fake_telegram.fail_next("sendMessage", Failure.too_many_requests(1), chat_id=KNOWN)
        accepted = [outbox.say(KNOWN, f"answer {n}") for n in range(5)]
        other = outbox.say(OTHER, "elsewhere")
        await outbox.join()
    finally:
        await bot.session.close()

    assert accepted == [True, True, True, False, False]
    assert other
    assert fake_telegram.chat(KNOWN).texts == ["answer 0", "answer 1", "answer 2"]
    assert fake_telegram.chat(OTHER).texts == ["elsewhere"]


async def test_an_html_answer_that_telegram_cannot_parse_is_sent_as_its_visible_text(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    bot = make_bot(fake_telegram)
    outbox = Outbox(Sender(bot, redis, FloodBudget(global_per_s=1_000)))
    try:
        fake_telegram.fail_next(
            "sendMessage",
            Failure.error(400, "Bad Request: can't parse entities: unsupported start tag"),
        )
        outbox.say(KNOWN, "<b>Проекты</b>\n1 &lt; 2", html=True)
        await outbox.join()
    finally:
        await bot.session.close()

    assert fake_telegram.chat(KNOWN).texts == ["Проекты\n1 < 2"]
