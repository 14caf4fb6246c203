"""The Bot API over HTTP: tokens, unknown methods, request bodies, the call records."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramNotFound, TelegramUnauthorizedError
from aiogram.methods import GetMe

from services.fakes.telegram import FakeTelegram
from tests.fakes.telegram import PRIVATE
from tests.plugins.telegram import make_bot


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
