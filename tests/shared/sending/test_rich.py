"""``RICH_MESSAGES``: replies go as rich messages, and as HTML when Telegram refuses them.

Against the fake Telegram (which serves ``sendRichMessage``, or refuses it
with :func:`refuse_rich_messages`) and a real Redis.
"""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from services.fakes.telegram import Failure, FakeTelegram
from services.fakes.telegram.methods.rich import refuse_rich_messages
from shared.ratelimit import FloodBudget
from shared.sending.results import Outcome
from shared.sending.retry import RetryPolicy
from shared.sending.sender import Sender
from shared.settings import BaseSettings, load
from shared.telegram import BadRequest, TelegramClient

CHAT = 4242
REPLY = """## Servers

| Server | Status |
|---|---|
| alpha | **running** |

Check `alpha` first."""
BUDGET = FloodBudget(global_per_s=100.0, chat_per_s=50.0, group_limit=20, group_window_s=1.0)
RETRY = RetryPolicy(attempts=3, base_s=0.01, cap_s=0.05)


def make_sender(client: TelegramClient, redis: aioredis.Redis, *, rich: bool) -> Sender:
    return Sender(client, redis, BUDGET, retry=RETRY, rich_messages=rich)


@pytest.fixture
async def rich_sender(
    fake_telegram: FakeTelegram, telegram_client: TelegramClient, redis: aioredis.Redis
) -> Sender:
    fake_telegram.lift_flood_limits()
    return make_sender(telegram_client, redis, rich=True)


async def test_a_reply_goes_as_one_rich_message_with_a_real_table_and_heading(
    fake_telegram: FakeTelegram, rich_sender: Sender
) -> None:
    result = await rich_sender.send(CHAT, REPLY, key="reply-1")
    assert result.outcome is Outcome.DELIVERED
    assert fake_telegram.calls_to("sendMessage") == []
    [message] = fake_telegram.chat(CHAT).messages.values()
    assert message["message_id"] == result.message_ids[0]
    kinds = [block["type"] for block in message["rich_message"]["blocks"]]
    assert kinds == ["heading", "table", "paragraph"]
    table = message["rich_message"]["blocks"][1]
    assert table["cells"][1][1]["text"] == {"type": "bold", "text": "running"}


async def test_a_refused_rich_message_falls_back_to_the_html_form(
    fake_telegram: FakeTelegram, rich_sender: Sender
) -> None:
    refuse_rich_messages(fake_telegram)
    result = await rich_sender.send(CHAT, REPLY, key="reply-1")
    assert result.outcome is Outcome.DELIVERED
    assert len(fake_telegram.calls_to("sendRichMessage")) == 1
    [sent] = fake_telegram.calls_to("sendMessage")
    assert sent.params["parse_mode"] == "HTML"
    [message] = fake_telegram.chat(CHAT).messages.values()
    assert "rich_message" not in message
    assert "alpha  │ running" in message["text"]  # the table as a monospace block


async def test_a_not_found_method_falls_back_too(
    fake_telegram: FakeTelegram, rich_sender: Sender
) -> None:
    fake_telegram.fail_next("sendRichMessage", Failure.error(404, "Not Found"))
    result = await rich_sender.send(CHAT, REPLY, key="reply-1")
    assert result.outcome is Outcome.DELIVERED
    assert len(fake_telegram.calls_to("sendMessage")) == 1


async def test_after_a_refusal_the_next_replies_go_straight_to_html(
    fake_telegram: FakeTelegram, rich_sender: Sender
) -> None:
    refuse_rich_messages(fake_telegram)
    await rich_sender.send(CHAT, REPLY, key="reply-1")
    await rich_sender.send(CHAT, REPLY, key="reply-2")
    assert len(fake_telegram.calls_to("sendRichMessage")) == 1
    assert len(fake_telegram.calls_to("sendMessage")) == 2


async def test_rich_messages_are_off_by_default(
    fake_telegram: FakeTelegram, telegram_client: TelegramClient, redis: aioredis.Redis
) -> None:
    fake_telegram.lift_flood_limits()
    sender = Sender(telegram_client, redis, BUDGET, retry=RETRY)
    await sender.send(CHAT, REPLY, key="reply-1")
    assert fake_telegram.calls_to("sendRichMessage") == []
    assert len(fake_telegram.calls_to("sendMessage")) == 1


async def test_a_rich_reply_sent_again_under_its_key_is_not_shown_twice(
    fake_telegram: FakeTelegram, rich_sender: Sender
) -> None:
    first = await rich_sender.send(CHAT, REPLY, key="reply-1")
    again = await rich_sender.send(CHAT, REPLY, key="reply-1")
    assert again.outcome is Outcome.DELIVERED
    assert again.message_ids == first.message_ids
    assert len(fake_telegram.chat(CHAT).messages) == 1


async def test_a_reply_too_long_for_one_rich_message_goes_as_html_parts(
    fake_telegram: FakeTelegram, rich_sender: Sender
) -> None:
    result = await rich_sender.send(CHAT, "word " * 2000, key="reply-1")
    assert len(result.message_ids) == 3
    assert fake_telegram.calls_to("sendRichMessage") == []


async def test_a_blocked_bot_is_not_sent_the_html_form_after_the_rich_one(
    fake_telegram: FakeTelegram, rich_sender: Sender
) -> None:
    fake_telegram.block(CHAT)
    result = await rich_sender.send(CHAT, REPLY, key="reply-1")
    assert result.outcome is Outcome.BLOCKED
    assert fake_telegram.calls_to("sendMessage") == []


async def test_a_plain_text_send_never_goes_rich(
    fake_telegram: FakeTelegram, rich_sender: Sender
) -> None:
    await rich_sender.send(CHAT, REPLY, key="notice", markdown=False)
    assert fake_telegram.calls_to("sendRichMessage") == []


@pytest.mark.parametrize(("value", "enabled"), [("true", True), (None, False)])
async def test_the_rich_messages_setting_turns_the_rich_path_on(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, value: str | None, enabled: bool
) -> None:
    environ = {"TELEGRAM_BOT_TOKEN": fake_telegram.token, "TELEGRAM_API_URL": fake_telegram.url}
    if value is not None:
        environ["RICH_MESSAGES"] = value
    sender = Sender.from_settings(load(BaseSettings, environ), redis)
    try:
        assert sender.rich.enabled is enabled
    finally:
        await sender.close()


# ---------------------------------------------------------------------------
# The fake checks what it is sent, so a malformed rich message cannot pass unseen


@pytest.mark.parametrize(
    "rich",
    [
        {"blocks": [{"type": "table", "cells": [[{"text": "a"}]]}]},  # no align/valign
        {"blocks": [{"type": "heading", "text": "a", "size": 7}]},
        {"blocks": [{"type": "paragraph", "text": {"type": "blink", "text": "a"}}]},
        {"html": "<b>a</b>", "blocks": [{"type": "paragraph", "text": "a"}]},
        {"blocks": []},
    ],
)
async def test_the_fake_refuses_a_malformed_rich_message(
    fake_telegram: FakeTelegram, telegram_client: TelegramClient, rich: dict[str, object]
) -> None:
    with pytest.raises(BadRequest):
        await telegram_client.call("sendRichMessage", {"chat_id": CHAT, "rich_message": rich})
    assert fake_telegram.chat(CHAT).messages == {}
