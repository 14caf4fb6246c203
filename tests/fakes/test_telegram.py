"""The fake Telegram enforces Telegram's rules against real aiogram calls.

Every rule fires here through aiogram over HTTP, so a bot tested against
the fake meets the same errors it would meet in production. Time-based
limits run on a hand-moved clock (``telegram_clock``): no test sleeps.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.filters import CommandStart
from aiogram.methods import GetMe
from aiogram.types import (
    BotCommand,
    KeyboardButton,
    MessageEntity,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from aiogram.types import Message as AiogramMessage
from aiohttp import web

from services.fakes.telegram import (
    Failure,
    FakeTelegram,
    FloodLimits,
    ManualClock,
    utf16_len,
)
from shared.telegram import BadRequest, TelegramClient
from tests.plugins.telegram import make_bot

PRIVATE = 4242
GROUP = -100_500


# ---------------------------------------------------------------- text length


async def test_text_over_4096_utf16_units_is_rejected_as_too_long(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(PRIVATE, "a" * 4097)


async def test_4096_cyrillic_letters_fit_in_one_message(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    message = await bot.send_message(PRIVATE, "ж" * 4096)

    assert message.text == "ж" * 4096
    assert fake_telegram.chat(PRIVATE).texts == ["ж" * 4096]


async def test_2049_emoji_are_too_long_because_each_is_two_utf16_units(bot: Bot) -> None:
    text = "😀" * 2049
    assert len(text) == 2049
    assert utf16_len(text) == 4098

    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(PRIVATE, text)


async def test_length_is_counted_after_html_parsing(bot: Bot) -> None:
    message = await bot.send_message(PRIVATE, f"<b>{'x' * 4096}</b>", parse_mode="HTML")

    assert message.text == "x" * 4096


async def test_empty_text_is_rejected(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(PRIVATE, "")


async def test_text_that_is_only_whitespace_or_empty_markup_is_empty(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(PRIVATE, " \n ")
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(PRIVATE + 1, "<b> </b>", parse_mode="HTML")


# ---------------------------------------------------------------- HTML


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        ("<script>alert(1)</script>", 'Unsupported start tag "script" at byte offset 0'),
        ("line<br>break", 'Unsupported start tag "br" at byte offset 4'),
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("text</b>", "Unexpected end tag at byte offset 4"),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("ends with <", "Unclosed start tag at byte offset 10"),
        ("é <u>", 'Can\'t find end tag corresponding to start tag "u"'),
        ("ж<x>", 'Unsupported start tag "x" at byte offset 2'),
        ("a&nbsp;b", 'Unsupported HTML entity "&nbsp;" at byte offset 1'),
        ("<a>no href</a>", 'Tag "a" must have attribute "href" at byte offset 0'),
        ('<span class="red">x</span>', 'Tag "span" must have class "tg-spoiler"'),
    ],
)
async def test_malformed_html_is_rejected_with_telegrams_reason(
    bot: Bot, html: str, reason: str
) -> None:
    with pytest.raises(TelegramBadRequest) as raised:
        await bot.send_message(PRIVATE, html, parse_mode="HTML")

    assert raised.value.message.startswith("Bad Request: can't parse entities: ")
    assert reason in raised.value.message


async def test_valid_html_is_accepted_and_stored_without_markup(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    html = (
        '<b>Bold</b> <i>it</i> <a href="https://example.org/?a=1&amp;b=2">link</a> '
        "&lt;tag&gt; &amp; &quot;q&quot; &#65;&#x42; <tg-spoiler>s</tg-spoiler>\n"
        '<pre><code class="language-python">x = 1</code></pre>'
        "<blockquote expandable>quote</blockquote>"
    )

    message = await bot.send_message(PRIVATE, html, parse_mode="HTML")

    expected = 'Bold it link <tag> & "q" AB s\nx = 1quote'
    assert message.text == expected
    assert fake_telegram.chat(PRIVATE).texts == [expected]
    entities = {(e.type, e.offset, e.length) for e in message.entities or []}
    assert ("bold", 0, 4) in entities
    assert ("text_link", 8, 4) in entities
    assert ("expandable_blockquote", 35, 5) in entities
    pre = next(e for e in message.entities or [] if e.type == "pre")
    assert pre.language == "python"
    link = next(e for e in message.entities or [] if e.type == "text_link")
    assert link.url == "https://example.org/?a=1&b=2"


async def test_html_entity_offsets_are_in_utf16_units(bot: Bot) -> None:
    message = await bot.send_message(PRIVATE, "😀 <b>x</b>", parse_mode="HTML")

    assert [(e.offset, e.length) for e in message.entities or []] == [(3, 1)]


# ---------------------------------------------------------------- Markdown and entities


@pytest.mark.parametrize(
    ("text", "char"),
    [("Done.", "."), ("1+1=2", "+"), ("v1-2", "-"), ("(note)", "("), ("wow!", "!")],
)
async def test_markdown_v2_reserved_character_must_be_escaped(
    bot: Bot, text: str, char: str
) -> None:
    with pytest.raises(TelegramBadRequest) as raised:
        await bot.send_message(PRIVATE, text, parse_mode="MarkdownV2")

    assert raised.value.message == (
        "Bad Request: can't parse entities: "
        f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
    )


async def test_markdown_v2_escaped_text_and_entities_are_accepted(bot: Bot) -> None:
    message = await bot.send_message(
        PRIVATE, "*Done\\.* see [docs](https://example.org/a_b) `x.y`", parse_mode="MarkdownV2"
    )

    assert message.text == "Done. see docs x.y"
    assert [e.type for e in message.entities or []] == ["bold", "text_link", "code"]


async def test_markdown_v2_unclosed_entity_is_rejected(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="Can't find end of Bold entity at byte offset 3"):
        await bot.send_message(PRIVATE, "hi *there", parse_mode="MarkdownV2")


async def test_entities_param_is_checked_against_utf16_length(bot: Bot) -> None:
    text = "😀 hi"  # 5 UTF-16 units
    ok = await bot.send_message(
        PRIVATE, text, entities=[MessageEntity(type="bold", offset=3, length=2)]
    )
    assert ok.entities is not None
    assert ok.entities[0].offset == 3

    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(
            PRIVATE, text, entities=[MessageEntity(type="bold", offset=3, length=3)]
        )


async def test_unknown_parse_mode_is_rejected(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="unsupported parse_mode"):
        await bot.send_message(PRIVATE, "x", parse_mode="BBCode")


# ---------------------------------------------------------------- flood limits


async def test_private_chat_burst_over_three_messages_gets_429(
    bot: Bot, fake_telegram: FakeTelegram, telegram_clock: ManualClock
) -> None:
    for n in range(3):
        await bot.send_message(PRIVATE, f"burst {n}")

    with pytest.raises(TelegramRetryAfter) as raised:
        await bot.send_message(PRIVATE, "one too many")

    assert raised.value.retry_after == 1
    [throttled] = fake_telegram.throttled
    assert throttled.body == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }
    assert len(fake_telegram.chat(PRIVATE).sent) == 3


async def test_one_message_per_second_is_sustainable_in_a_private_chat(
    bot: Bot, telegram_clock: ManualClock
) -> None:
    for n in range(10):
        await bot.send_message(PRIVATE, f"steady {n}")
        telegram_clock.advance(1.0)


async def test_group_chat_over_20_messages_per_minute_gets_429(
    bot: Bot, fake_telegram: FakeTelegram, telegram_clock: ManualClock
) -> None:
    # Lift the per-chat bucket so only the group window can refuse.
    fake_telegram.set_flood_limits(FloodLimits(chat_rate=None))
    for n in range(20):
        await bot.send_message(GROUP, f"group {n}")
        telegram_clock.advance(0.5)

    with pytest.raises(TelegramRetryAfter) as raised:
        await bot.send_message(GROUP, "21st")

    assert raised.value.retry_after == 50  # the first one leaves the 60 s window then
    telegram_clock.advance(50)
    await bot.send_message(GROUP, "allowed again")


async def test_global_limit_over_30_messages_per_second_across_many_chats_gets_429(
    bot: Bot, fake_telegram: FakeTelegram, telegram_clock: ManualClock
) -> None:
    for chat_id in range(1, 31):
        await bot.send_message(chat_id, "broadcast")

    with pytest.raises(TelegramRetryAfter) as raised:
        await bot.send_message(31, "broadcast")

    assert raised.value.retry_after == 1
    assert fake_telegram.chat(31).sent == []


async def test_429_penalty_continues_until_retry_after_has_passed(
    bot: Bot, fake_telegram: FakeTelegram, telegram_clock: ManualClock
) -> None:
    # 2 msg/s with no burst: after 0.5 s the bucket alone would allow the next send.
    fake_telegram.set_flood_limits(FloodLimits(chat_rate=2.0, chat_burst=1))
    await bot.send_message(PRIVATE, "first")
    with pytest.raises(TelegramRetryAfter) as first:
        await bot.send_message(PRIVATE, "too soon")
    assert first.value.retry_after == 1

    telegram_clock.advance(0.5)  # the bucket has refilled, the penalty has not run out
    with pytest.raises(TelegramRetryAfter) as second:
        await bot.send_message(PRIVATE, "still penalised")
    assert second.value.retry_after == 1

    telegram_clock.advance(0.5)
    await bot.send_message(PRIVATE, "after retry_after")
    assert len(fake_telegram.throttled) == 2


async def test_editing_counts_against_the_chat_budget(
    bot: Bot, telegram_clock: ManualClock
) -> None:
    message = await bot.send_message(PRIVATE, "v0")
    await bot.edit_message_text("v1", chat_id=PRIVATE, message_id=message.message_id)
    await bot.edit_message_text("v2", chat_id=PRIVATE, message_id=message.message_id)

    with pytest.raises(TelegramRetryAfter):
        await bot.edit_message_text("v3", chat_id=PRIVATE, message_id=message.message_id)


async def test_flood_limits_can_be_lifted(bot: Bot, fake_telegram: FakeTelegram) -> None:
    fake_telegram.lift_flood_limits()

    for n in range(40):
        await bot.send_message(PRIVATE, f"unlimited {n}")

    assert fake_telegram.throttled == []


# ---------------------------------------------------------------- blocked users


async def test_blocked_user_gets_403(bot: Bot, fake_telegram: FakeTelegram) -> None:
    fake_telegram.block(PRIVATE)

    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(PRIVATE, "hello?")
    with pytest.raises(TelegramForbiddenError):
        await bot.send_chat_action(PRIVATE, "typing")

    [update] = await bot.get_updates()  # Telegram tells the bot, too
    assert update.my_chat_member is not None
    assert update.my_chat_member.new_chat_member.status == "kicked"


# ---------------------------------------------------------------- getUpdates


async def test_unconfirmed_update_is_delivered_again_and_confirmed_one_is_not(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    first = fake_telegram.inject_message(PRIVATE, "one")["update_id"]
    second = fake_telegram.inject_message(PRIVATE, "two")["update_id"]

    assert [u.update_id for u in await bot.get_updates()] == [first, second]
    assert [u.update_id for u in await bot.get_updates()] == [first, second]
    assert [u.update_id for u in await bot.get_updates(offset=first + 1)] == [second]
    assert await bot.get_updates(offset=second + 1) == []
    assert fake_telegram.pending_updates == []


async def test_injected_message_is_a_realistic_update(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.inject_message(PRIVATE, "/start now")

    [update] = await bot.get_updates()

    message = update.message
    assert message is not None
    assert message.from_user is not None
    assert message.text == "/start now"
    assert message.chat.type == "private"
    assert message.chat.id == PRIVATE
    assert message.from_user.id == PRIVATE
    assert not message.from_user.is_bot
    assert [(e.type, e.length) for e in message.entities or []] == [("bot_command", 6)]


async def test_long_poll_returns_as_soon_as_an_update_arrives(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await fake_telegram.wait_for_poller()
    started = time.monotonic()

    fake_telegram.inject_message(PRIVATE, "wake up")
    updates = await poll

    assert [u.message.text for u in updates if u.message] == ["wake up"]
    assert time.monotonic() - started < 2


async def test_long_poll_honours_its_timeout(bot: Bot) -> None:
    started = time.monotonic()

    assert await bot.get_updates(timeout=1) == []

    assert 0.9 <= time.monotonic() - started < 3


async def test_second_poller_terminates_the_first_with_409(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=30))
    await fake_telegram.wait_for_poller()

    assert await bot.get_updates(timeout=0) == []

    with pytest.raises(TelegramConflictError) as raised:
        await first
    assert raised.value.message == (
        "Conflict: terminated by other getUpdates request; "
        "make sure that only one bot instance is running"
    )


async def test_allowed_updates_filter_is_remembered_across_calls(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    await bot.send_message(PRIVATE, "pick one")
    assert await bot.get_updates(allowed_updates=["callback_query"]) == []

    fake_telegram.inject_message(PRIVATE, "ignored text")
    fake_telegram.inject_callback_query(PRIVATE, "chosen")
    updates = await bot.get_updates()  # no allowed_updates: the last setting stays

    assert [u.callback_query.data for u in updates if u.callback_query] == ["chosen"]
    assert [u.message for u in updates if u.message] == []


async def test_callback_query_can_be_answered_once(bot: Bot, fake_telegram: FakeTelegram) -> None:
    await bot.send_message(PRIVATE, "press")
    query_id = fake_telegram.inject_callback_query(PRIVATE, "yes")["callback_query"]["id"]

    assert await bot.answer_callback_query(query_id, text="ok")
    with pytest.raises(TelegramBadRequest, match="query ID is invalid"):
        await bot.answer_callback_query(query_id)
    assert fake_telegram.callback_answers[0]["text"] == "ok"


# ---------------------------------------------------------------- webhook


@dataclass
class WebhookReceiver:
    """A tiny webhook endpoint answering the given statuses in turn (then 200)."""

    statuses: list[int]
    requests: list[tuple[str | None, bytes]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        self.requests.append((secret, await request.read()))
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status)


@asynccontextmanager
async def webhook_receiver(statuses: list[int]) -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver(statuses)
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    receiver.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        yield receiver
    finally:
        await runner.cleanup()


async def test_webhook_push_carries_the_secret_and_is_retried_until_2xx(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    async with webhook_receiver([500, 502]) as receiver:
        assert await bot.set_webhook(receiver.url, secret_token="s3cret_-Token")
        update_id = fake_telegram.inject_message(PRIVATE, "via webhook")["update_id"]

        await fake_telegram.wait_for(lambda: any(d.ok for d in fake_telegram.webhook_deliveries))

    assert [d.status for d in fake_telegram.webhook_deliveries] == [500, 502, 200]
    assert [secret for secret, _ in receiver.requests] == ["s3cret_-Token"] * 3
    assert {json.loads(body)["update_id"] for _, body in receiver.requests} == {update_id}
    assert fake_telegram.pending_updates == []
    info = await bot.get_webhook_info()
    assert info.url == receiver.url
    assert info.pending_update_count == 0
    assert info.last_error_message == "Wrong response from the webhook: 502 Bad Gateway"


async def test_get_updates_while_webhook_is_set_is_a_conflict(bot: Bot) -> None:
    await bot.set_webhook("https://example.org/hook")

    with pytest.raises(TelegramConflictError) as raised:
        await bot.get_updates()

    assert "can't use getUpdates method while webhook is active" in raised.value.message
    await bot.delete_webhook()
    assert await bot.get_updates() == []


async def test_delete_webhook_can_drop_pending_updates(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.inject_message(PRIVATE, "stale")

    await bot.delete_webhook(drop_pending_updates=True)

    assert await bot.get_updates() == []


@pytest.mark.parametrize("secret", ["has space", "ünïcode", "x" * 257])
async def test_invalid_webhook_secret_is_rejected(bot: Bot, secret: str) -> None:
    with pytest.raises(TelegramBadRequest, match="secret token"):
        await bot.set_webhook("https://example.org/hook", secret_token=secret)


# ---------------------------------------------------------------- editing, drafts, commands


async def test_editing_with_the_same_text_is_not_modified(bot: Bot) -> None:
    message = await bot.send_message(PRIVATE, "<b>same</b>", parse_mode="HTML")

    with pytest.raises(TelegramBadRequest, match="message is not modified: specified new"):
        await bot.edit_message_text(
            "<b>same</b>", chat_id=PRIVATE, message_id=message.message_id, parse_mode="HTML"
        )


async def test_editing_an_unknown_message_is_not_found(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("new", chat_id=PRIVATE, message_id=999)


async def test_edits_replace_what_the_user_sees(bot: Bot, fake_telegram: FakeTelegram) -> None:
    message = await bot.send_message(PRIVATE, "draft")

    edited = await bot.edit_message_text("final", chat_id=PRIVATE, message_id=message.message_id)

    assert isinstance(edited, AiogramMessage)
    assert edited.edit_date is not None
    chat = fake_telegram.chat(PRIVATE)
    assert chat.texts == ["final"]
    assert [m["text"] for m in chat.edits] == ["draft"]


async def test_a_reply_keyboard_stays_on_the_users_screen_until_removed(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    keyboard = ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text="A"), KeyboardButton(text="B")]])
    sent = await bot.send_message(PRIVATE, "pick", reply_markup=keyboard)
    await bot.send_message(PRIVATE, "still there")
    chat = fake_telegram.chat(PRIVATE)

    assert sent.reply_markup is None  # not part of the message, unlike an inline keyboard
    assert chat.keyboard is not None
    assert [[b["text"] for b in row] for row in chat.keyboard["keyboard"]] == [["A", "B"]]
    await bot.send_message(PRIVATE, "gone", reply_markup=ReplyKeyboardRemove())
    assert chat.keyboard is None


async def test_a_reply_keyboard_button_without_text_is_rejected(
    telegram_client: TelegramClient,
) -> None:
    with pytest.raises(BadRequest, match="Text must be non-empty"):
        await telegram_client.send_message(
            PRIVATE, "pick", reply_markup={"keyboard": [[{"text": ""}]]}
        )


async def test_a_message_sent_with_a_reply_keyboard_cannot_be_edited(bot: Bot) -> None:
    keyboard = ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text="A")]])
    sent = await bot.send_message(PRIVATE, "pick", reply_markup=keyboard)

    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await bot.edit_message_text("other", chat_id=PRIVATE, message_id=sent.message_id)


async def test_an_edit_takes_an_inline_keyboard_only(telegram_client: TelegramClient) -> None:
    sent = await telegram_client.send_message(PRIVATE, "pick")

    with pytest.raises(BadRequest, match="inline keyboard expected"):
        await telegram_client.edit_message_text(
            PRIVATE, sent["message_id"], "other", reply_markup={"keyboard": [[{"text": "A"}]]}
        )


async def test_message_ids_increase_per_chat(bot: Bot) -> None:
    ids = [(await bot.send_message(chat, "x")).message_id for chat in (1, 1, 2)]

    assert ids == [1, 2, 1]


async def test_message_draft_is_accepted_in_private_chats_only(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    assert await bot.send_message_draft(PRIVATE, draft_id=7, text="Thinking…")
    assert fake_telegram.chat(PRIVATE).drafts[7].text == "Thinking…"

    with pytest.raises(TelegramBadRequest):
        await bot.send_message_draft(GROUP, draft_id=7, text="no drafts in groups")
    with pytest.raises(TelegramBadRequest, match="draft_id"):
        await bot.send_message_draft(PRIVATE, draft_id=0, text="zero id")

    await bot.send_message(PRIVATE, "final answer")
    assert fake_telegram.chat(PRIVATE).drafts == {}  # a sent message replaces the draft


async def test_chat_actions_and_deletions_are_recorded(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    assert await bot.send_chat_action(PRIVATE, "typing")
    message = await bot.send_message(PRIVATE, "oops")
    assert await bot.delete_message(PRIVATE, message.message_id)

    chat = fake_telegram.chat(PRIVATE)
    assert [a.action for a in chat.actions] == ["typing"]
    assert chat.sent == []
    assert [m["text"] for m in chat.deleted] == ["oops"]
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(PRIVATE, message.message_id)


async def test_commands_can_be_set_read_and_deleted(bot: Bot) -> None:
    commands = [
        BotCommand(command="start", description="Start"),
        BotCommand(command="help", description="Help"),
    ]

    assert await bot.set_my_commands(commands)
    assert [(c.command, c.description) for c in await bot.get_my_commands()] == [
        ("start", "Start"),
        ("help", "Help"),
    ]
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad-Name", description="x")])


# ---------------------------------------------------------------- scripted failures


async def test_scripted_429_surfaces_as_retry_after(bot: Bot, fake_telegram: FakeTelegram) -> None:
    fake_telegram.fail_next("sendMessage", Failure.too_many_requests(17))

    with pytest.raises(TelegramRetryAfter) as raised:
        await bot.send_message(PRIVATE, "x")

    assert raised.value.retry_after == 17
    await bot.send_message(PRIVATE, "next one passes")
    assert [c.retry_after for c in fake_telegram.throttled] == [17]


@pytest.mark.parametrize(
    ("status", "description"), [(500, "Internal Server Error"), (502, "Bad Gateway")]
)
async def test_scripted_5xx_surfaces_as_server_error(
    bot: Bot, fake_telegram: FakeTelegram, status: int, description: str
) -> None:
    fake_telegram.fail_next("sendMessage", Failure.server_error(status), times=2)

    for _ in range(2):
        with pytest.raises(TelegramServerError, match=description):
            await bot.send_message(PRIVATE, "x")

    assert fake_telegram.chat(PRIVATE).sent == []
    await bot.send_message(PRIVATE, "recovered")


async def test_scripted_slow_answer_times_out_the_client_but_still_takes_effect(
    fake_telegram: FakeTelegram,
) -> None:
    impatient = make_bot(fake_telegram, timeout=0.2)
    fake_telegram.fail_next("sendMessage", Failure.slow(0.5))
    try:
        with pytest.raises(TelegramNetworkError, match="Request timeout error"):
            await impatient.send_message(PRIVATE, "slow")
    finally:
        await impatient.session.close()

    # Like Telegram, the message is sent although the client gave up waiting.
    [message] = await fake_telegram.wait_for_messages(PRIVATE, 1)
    assert message["text"] == "slow"


async def test_scripted_dropped_connection_surfaces_as_network_error(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.fail_next("sendMessage", Failure.drop())
    fake_telegram.fail_next("sendMessage", Failure.drop(after_processing=True))

    with pytest.raises(TelegramNetworkError):
        await bot.send_message(PRIVATE, "lost request")
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(PRIVATE, "lost answer")

    assert fake_telegram.chat(PRIVATE).texts == ["lost answer"]
    assert [c.status for c in fake_telegram.calls_to("sendMessage")] == [None, None]


async def test_scripted_nginx_502_page_is_not_json(bot: Bot, fake_telegram: FakeTelegram) -> None:
    fake_telegram.fail_next("getMe", Failure.server_error(502, html=True))

    # aiogram cannot decode nginx's HTML page: a bot must survive that too.
    with pytest.raises(ClientDecodeError):
        await bot.get_me()


async def test_scripted_arbitrary_error_and_chat_matching(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.fail_next(
        "sendMessage", Failure.error(403, "Forbidden: user is deactivated"), chat_id=PRIVATE
    )

    await bot.send_message(PRIVATE + 1, "other chat is unaffected")
    with pytest.raises(TelegramForbiddenError, match="user is deactivated"):
        await bot.send_message(PRIVATE, "x")


# ---------------------------------------------------------------- transport


async def test_unknown_token_is_unauthorized(fake_telegram: FakeTelegram) -> None:
    stranger = make_bot(fake_telegram, token="999999:not-the-token")
    try:
        with pytest.raises(TelegramUnauthorizedError, match="Unauthorized"):
            await stranger.get_me()
    finally:
        await stranger.session.close()


async def test_unknown_method_is_not_found(bot: Bot, fake_telegram: FakeTelegram) -> None:
    url = f"{fake_telegram.url}/bot{fake_telegram.token}/sendTelepathy"
    async with aiohttp.ClientSession() as http, http.post(url) as resp:
        assert resp.status == 404
        assert await resp.json() == {"ok": False, "error_code": 404, "description": "Not Found"}

    class SendTelepathy(GetMe):
        __api_method__ = "sendTelepathy"

    with pytest.raises(TelegramNotFound):
        await bot(SendTelepathy())


async def test_method_names_are_case_insensitive_and_form_json_multipart_bodies_are_accepted(
    fake_telegram: FakeTelegram,
) -> None:
    base = f"{fake_telegram.url}/bot{fake_telegram.token}"
    multipart = aiohttp.FormData()
    multipart.add_field("chat_id", "3")
    multipart.add_field("text", "multipart")
    multipart.add_field("document", b"%PDF-", filename="a.pdf", content_type="application/pdf")
    requests: list[Callable[[aiohttp.ClientSession], Awaitable[aiohttp.ClientResponse]]] = [
        lambda http: http.post(f"{base}/SENDMESSAGE", json={"chat_id": 1, "text": "json"}),
        lambda http: http.post(f"{base}/sendmessage", data={"chat_id": "2", "text": "form"}),
        lambda http: http.post(f"{base}/SendMessage", data=multipart),
        lambda http: http.get(f"{base}/sendMessage", params={"chat_id": "4", "text": "query"}),
    ]

    async with aiohttp.ClientSession() as http:
        for send in requests:
            resp = await send(http)
            body = await resp.json()
            assert resp.status == 200, body
            assert body["ok"] is True
        me = await (await http.post(f"{base}/GETME")).json()

    assert me["result"]["is_bot"] is True
    texts = [fake_telegram.chat(chat).texts for chat in (1, 2, 3, 4)]
    assert texts == [["json"], ["form"], ["multipart"], ["query"]]
    assert [c.method for c in fake_telegram.calls] == ["sendMessage"] * 4 + ["getMe"]
    assert fake_telegram.calls[0].params["chat_id"] == 1
    assert fake_telegram.calls[1].params["chat_id"] == 2  # decoded from the form string


async def test_calls_are_recorded_in_order_with_time_status_and_body(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    await bot.get_me()
    with pytest.raises(TelegramBadRequest):
        await bot.send_message(PRIVATE, "")

    get_me, send = fake_telegram.calls
    assert (get_me.method, get_me.status, get_me.ok) == ("getMe", 200, True)
    assert (send.method, send.status, send.chat_id) == ("sendMessage", 400, PRIVATE)
    assert send.description == "Bad Request: message text is empty"
    assert get_me.started <= get_me.finished <= send.started


# ---------------------------------------------------------------- control API and lifecycle


async def test_control_api_injects_messages_blocks_chats_and_reads_them(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    control = fake_telegram.control_url
    async with aiohttp.ClientSession() as http:
        posted = await http.post(f"{control}/chats/{PRIVATE}/messages", json={"text": "hi bot"})
        assert (await posted.json())["result"]["message"]["text"] == "hi bot"
        [update] = await bot.get_updates()
        assert update.message is not None
        assert update.message.text == "hi bot"

        await bot.send_message(PRIVATE, "hi human")
        chat = await (await http.get(f"{control}/chats/{PRIVATE}")).json()
        assert [m["text"] for m in chat["result"]["messages"]] == ["hi bot", "hi human"]

        await http.post(f"{control}/chats/{PRIVATE}/block", json={"blocked": True})
        with pytest.raises(TelegramForbiddenError):
            await bot.send_message(PRIVATE, "blocked now")

        failure = {"method": "getMe", "kind": "retry_after", "retry_after": 3}
        assert (await http.post(f"{control}/failures", json=failure)).status == 200
        with pytest.raises(TelegramRetryAfter):
            await bot.get_me()

        bad = await http.post(f"{control}/failures", json={"kind": "slow"})
        assert bad.status == 400
        calls = await (await http.get(f"{control}/calls", params={"method": "getMe"})).json()
        assert [c["status"] for c in calls["result"]] == [429]


async def test_stop_ends_an_inflight_long_poll_promptly() -> None:
    fake = FakeTelegram()
    await fake.start()
    bot = make_bot(fake)
    try:
        poll = asyncio.create_task(bot.get_updates(timeout=30))
        await fake.wait_for_poller()
        started = time.monotonic()

        await fake.stop()

        assert await poll == []
        assert time.monotonic() - started < 3
    finally:
        await bot.session.close()


async def test_real_aiogram_dispatcher_polls_the_fake_and_answers(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    dp = Dispatcher()

    @dp.message(CommandStart())
    async def start(message: AiogramMessage) -> None:
        await message.answer("Hello, <b>friend</b>!", parse_mode="HTML")

    polling = asyncio.create_task(
        dp.start_polling(bot, handle_signals=False, close_bot_session=False, polling_timeout=1)
    )
    try:
        fake_telegram.inject_message(PRIVATE, "/start")
        [reply] = await fake_telegram.wait_for_messages(PRIVATE, 1)
    finally:
        await dp.stop_polling()
        await polling

    assert reply["text"] == "Hello, friend!"
    assert reply["entities"] == [{"type": "bold", "offset": 7, "length": 6}]


async def post_json(http: aiohttp.ClientSession, url: str, body: object) -> Any:
    async with http.post(url, json=body) as resp:
        assert resp.status == 200, await resp.text()
        return (await resp.json())["result"]


async def test_control_api_covers_edits_callbacks_raw_updates_flood_and_waiting(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    control = fake_telegram.control_url
    await bot.send_message(PRIVATE, "choose")
    async with aiohttp.ClientSession() as http:

        async def wait_for_change(after: int) -> int:
            async with http.get(f"{control}/wait", params={"after": str(after)}) as resp:
                return int((await resp.json())["result"]["version"])

        before = fake_telegram.version
        waiting = asyncio.create_task(wait_for_change(before))
        update = await post_json(http, f"{control}/chats/{PRIVATE}/messages", {"text": "a"})
        assert await waiting > before

        edit = {"message_id": update["message"]["message_id"], "text": "b"}
        await post_json(http, f"{control}/chats/{PRIVATE}/edits", edit)
        await post_json(http, f"{control}/chats/{PRIVATE}/callbacks", {"data": "yes"})
        raw = {"channel_post": {"message_id": 1, "date": 0, "chat": {"id": -5, "type": "channel"}}}
        await post_json(http, f"{control}/updates", raw)
        await post_json(http, f"{control}/flood", {"off": True})

    updates = await bot.get_updates()
    kinds = [next(k for k in u.model_dump(exclude_none=True) if k != "update_id") for u in updates]
    assert kinds == ["message", "edited_message", "callback_query", "channel_post"]
    assert [u.update_id for u in updates] == sorted({u.update_id for u in updates})
    edited = updates[1].edited_message
    assert edited is not None
    assert edited.text == "b"
    assert fake_telegram.flood.limits == FloodLimits.off()
