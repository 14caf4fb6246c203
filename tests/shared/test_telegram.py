"""``shared.telegram.TelegramClient`` against the fake Telegram over real HTTP: no mocks.

Every error answer becomes one of the module's exceptions, with Telegram's
description kept and the bot token nowhere in its message or repr.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import pytest

from services.fakes.redis_server import free_port
from services.fakes.telegram import Failure, FakeTelegram
from shared.settings import BaseSettings, load
from shared.telegram import (
    BadRequest,
    DecodeError,
    Forbidden,
    NetworkError,
    NotFound,
    RetryAfter,
    ServerError,
    TelegramClient,
    TelegramError,
    Unauthorized,
)

CHAT = 4242
TOKEN = "123456:TOKEN-that-must-not-leak"
"""The token of a client with no Telegram behind it."""

E = TypeVar("E", bound=TelegramError)


def assert_no_token(exc: TelegramError, token: str) -> None:
    secret = token.partition(":")[2]
    for text in (str(exc), repr(exc), exc.description, *map(str, exc.args)):
        assert token not in text
        assert secret not in text
    # No aiohttp exception (whose message may quote the URL) shows in a traceback.
    assert exc.__cause__ is None
    assert exc.__context__ is None or exc.__suppress_context__


async def refused(request: Awaitable[object], expected: type[E], token: str) -> E:
    """Await ``request``, which must raise ``expected``: the error, checked to hold no token."""
    with pytest.raises(expected) as caught:
        await request
    assert_no_token(caught.value, token)
    return caught.value


async def test_a_message_is_posted_as_json_and_its_message_comes_back(
    fake_telegram: FakeTelegram, telegram_client: TelegramClient
) -> None:
    message = await telegram_client.send_message(CHAT, "<b>hi</b> there", parse_mode="HTML")

    [sent] = fake_telegram.chat(CHAT).sent
    assert message["message_id"] == sent["message_id"]
    assert message["text"] == "hi there"
    [call] = fake_telegram.calls_to("sendMessage")
    assert call.params["parse_mode"] == "HTML"
    assert call.params["chat_id"] == CHAT


async def test_parameters_left_as_none_are_not_sent(
    fake_telegram: FakeTelegram, telegram_client: TelegramClient
) -> None:
    await telegram_client.send_message(CHAT, "plain", parse_mode=None, reply_markup=None)

    [call] = fake_telegram.calls_to("sendMessage")
    assert set(call.params) == {"chat_id", "text"}


async def test_reply_markup_and_a_disabled_link_preview_go_as_json_objects(
    fake_telegram: FakeTelegram, telegram_client: TelegramClient
) -> None:
    markup = {"inline_keyboard": [[{"text": "OK", "callback_data": "ok"}]]}

    await telegram_client.send_message(
        CHAT, "see https://example.org", reply_markup=markup, disable_link_preview=True
    )

    [sent] = fake_telegram.chat(CHAT).sent
    assert sent["reply_markup"] == markup
    [call] = fake_telegram.calls_to("sendMessage")
    assert call.params["link_preview_options"] == {"is_disabled": True}


async def test_edit_delete_chat_action_and_draft_reach_telegram(
    fake_telegram: FakeTelegram, telegram_client: TelegramClient
) -> None:
    message = await telegram_client.send_message(CHAT, "v1")

    await telegram_client.edit_message_text(CHAT, message["message_id"], "v2")
    assert await telegram_client.send_chat_action(CHAT, "typing")
    assert await telegram_client.send_message_draft(CHAT, 7, "thinking")
    assert await telegram_client.delete_message(CHAT, message["message_id"])

    chat = fake_telegram.chat(CHAT)
    assert [m["text"] for m in chat.deleted] == ["v2"]
    assert [a.action for a in chat.actions] == ["typing"]
    assert chat.drafts[7].text == "thinking"


async def test_a_429_is_retry_after_with_telegrams_retry_after(
    fake_telegram: FakeTelegram, telegram_client: TelegramClient
) -> None:
    fake_telegram.fail_next("sendMessage", Failure.too_many_requests(17))

    error = await refused(
        telegram_client.send_message(CHAT, "too fast"), RetryAfter, fake_telegram.token
    )

    assert error.retry_after == 17
    assert error.error_code == 429
    assert str(error) == "Too Many Requests: retry after 17"


async def test_a_user_who_blocked_the_bot_is_forbidden(
    fake_telegram: FakeTelegram, telegram_client: TelegramClient
) -> None:
    fake_telegram.block(CHAT)

    error = await refused(
        telegram_client.send_message(CHAT, "hello?"), Forbidden, fake_telegram.token
    )

    assert error.error_code == 403
    assert "blocked" in str(error)


async def test_html_telegram_cannot_parse_is_a_bad_request_with_its_description(
    fake_telegram: FakeTelegram, telegram_client: TelegramClient
) -> None:
    error = await refused(
        telegram_client.send_message(CHAT, "<b>unclosed", parse_mode="HTML"),
        BadRequest,
        fake_telegram.token,
    )

    assert error.error_code == 400
    assert str(error).startswith("Bad Request: can't parse entities:")
    assert fake_telegram.chat(CHAT).sent == []


async def test_a_5xx_with_telegrams_json_is_a_server_error(
    fake_telegram: FakeTelegram, telegram_client: TelegramClient
) -> None:
    fake_telegram.fail_next("sendMessage", Failure.server_error(500))

    error = await refused(
        telegram_client.send_message(CHAT, "now?"), ServerError, fake_telegram.token
    )

    assert error.error_code == 500
    assert "Internal Server Error" in str(error)


async def test_nginxs_html_502_page_is_a_decode_error_without_the_page(
    fake_telegram: FakeTelegram, telegram_client: TelegramClient
) -> None:
    fake_telegram.fail_next("sendMessage", Failure.server_error(502, html=True))

    error = await refused(
        telegram_client.send_message(CHAT, "now?"), DecodeError, fake_telegram.token
    )

    assert error.status == 502
    assert "<html>" not in str(error)
    assert "text/html" in str(error)


async def test_a_refused_connection_is_a_network_error() -> None:
    async with TelegramClient(TOKEN, f"http://127.0.0.1:{free_port()}") as client:
        error = await refused(client.send_message(CHAT, "anyone?"), NetworkError, TOKEN)

    assert "Cannot connect" in str(error)


async def test_an_aiohttp_error_quoting_the_url_does_not_quote_the_token() -> None:
    async with TelegramClient(TOKEN, "http://") as client:
        error = await refused(client.call("getMe"), NetworkError, TOKEN)

    assert "/bot***/getMe" in str(error)


async def test_a_connection_dropped_before_the_answer_is_a_network_error(
    fake_telegram: FakeTelegram, telegram_client: TelegramClient
) -> None:
    fake_telegram.fail_next("sendMessage", Failure.drop())

    await refused(telegram_client.send_message(CHAT, "lost"), NetworkError, fake_telegram.token)


async def test_an_answer_slower_than_the_timeout_is_a_network_error(
    fake_telegram: FakeTelegram, telegram_client: TelegramClient
) -> None:
    fake_telegram.fail_next("sendChatAction", Failure.slow(5))

    error = await refused(
        telegram_client.send_chat_action(CHAT, "typing", timeout=0.2),
        NetworkError,
        fake_telegram.token,
    )

    assert "timed out" in str(error)


async def test_a_wrong_token_is_unauthorized_and_not_quoted(fake_telegram: FakeTelegram) -> None:
    token = "999:WRONG-token"
    async with TelegramClient(token, fake_telegram.url) as client:
        error = await refused(client.call("getMe"), Unauthorized, token)

    assert error.error_code == 401


async def test_an_unknown_method_is_not_found(
    fake_telegram: FakeTelegram, telegram_client: TelegramClient
) -> None:
    error = await refused(
        telegram_client.call("sendTelepathy", {"chat_id": CHAT}), NotFound, fake_telegram.token
    )

    assert error.method == "sendTelepathy"


async def test_the_clients_repr_shows_the_bot_id_and_never_the_token(
    fake_telegram: FakeTelegram, telegram_client: TelegramClient
) -> None:
    assert fake_telegram.token not in repr(telegram_client)
    assert repr(telegram_client).endswith("bot_id=123456)")


async def test_a_client_from_settings_uses_the_settings_token_and_api_url(
    fake_telegram: FakeTelegram,
) -> None:
    settings = load(
        BaseSettings,
        {"TELEGRAM_BOT_TOKEN": fake_telegram.token, "TELEGRAM_API_URL": fake_telegram.url},
    )
    client = TelegramClient.from_settings(settings)
    try:
        me = await client.call("getMe")
    finally:
        await client.close()

    assert me["id"] == 123456
    assert client.closed
