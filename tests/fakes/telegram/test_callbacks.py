"""Inline keyboards: pressed through the control API, edited, answered once."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from services.fakes.telegram import FakeTelegram
from tests.fakes.telegram import PRIVATE


async def test_callback_query_can_be_answered_once(bot: Bot, fake_telegram: FakeTelegram) -> None:
    await bot.send_message(PRIVATE, "press")
    query_id = fake_telegram.inject_callback_query(PRIVATE, "yes")["callback_query"]["id"]

    assert await bot.answer_callback_query(query_id, text="ok")
    with pytest.raises(TelegramBadRequest, match="query ID is invalid"):
        await bot.answer_callback_query(query_id)
    assert fake_telegram.callback_answers[0]["text"] == "ok"


YES_NO = InlineKeyboardMarkup(
    inline_keyboard=[
        [
            InlineKeyboardButton(text="Да", callback_data="yes"),
            InlineKeyboardButton(text="Нет", callback_data="no"),
        ]
    ]
)


async def control_post(fake: FakeTelegram, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{fake.control_url}{path}", json=body) as response,
    ):
        return response.status, await response.json()


async def test_pressing_a_button_sends_its_callback_data_to_the_bot(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    sent = await bot.send_message(PRIVATE, "Начать заново?", reply_markup=YES_NO)

    status, _ = await control_post(fake_telegram, f"/chats/{PRIVATE}/callbacks", {"button": "Нет"})

    assert status == 200
    [update] = await bot.get_updates()
    query = update.callback_query
    assert query is not None
    assert query.message is not None
    assert (query.data, query.message.message_id, query.from_user.id) == (
        "no",
        sent.message_id,
        PRIVATE,
    )


async def test_a_button_the_message_does_not_show_cannot_be_pressed(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    await bot.send_message(PRIVATE, "Начать заново?", reply_markup=YES_NO)

    status, _ = await control_post(
        fake_telegram, f"/chats/{PRIVATE}/callbacks", {"button": "Может быть"}
    )

    assert status == 404
    assert fake_telegram.pending_updates == []


async def test_a_keyboard_removed_by_an_edit_cannot_be_pressed(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    sent = await bot.send_message(PRIVATE, "Начать заново?", reply_markup=YES_NO)
    await bot.edit_message_text("→ Да", chat_id=PRIVATE, message_id=sent.message_id)

    with pytest.raises(KeyError):
        fake_telegram.press_button(PRIVATE, "Да", message_id=sent.message_id)


async def test_edit_message_reply_markup_replaces_the_keyboard_and_keeps_the_text(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    sent = await bot.send_message(PRIVATE, "Начать заново?", reply_markup=YES_NO)
    only_yes = InlineKeyboardMarkup(inline_keyboard=[YES_NO.inline_keyboard[0][:1]])

    edited = await bot.edit_message_reply_markup(
        chat_id=PRIVATE, message_id=sent.message_id, reply_markup=only_yes
    )

    assert not isinstance(edited, bool)
    assert edited.text == "Начать заново?"
    shown = fake_telegram.chat(PRIVATE).messages[sent.message_id]
    assert shown["reply_markup"]["inline_keyboard"] == [[{"text": "Да", "callback_data": "yes"}]]


async def test_edit_message_reply_markup_without_markup_removes_the_keyboard(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    sent = await bot.send_message(PRIVATE, "Начать заново?", reply_markup=YES_NO)

    await bot.edit_message_reply_markup(chat_id=PRIVATE, message_id=sent.message_id)

    assert "reply_markup" not in fake_telegram.chat(PRIVATE).messages[sent.message_id]


async def test_edit_message_reply_markup_with_the_same_keyboard_is_not_modified(
    bot: Bot,
) -> None:
    sent = await bot.send_message(PRIVATE, "Начать заново?", reply_markup=YES_NO)

    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(
            chat_id=PRIVATE, message_id=sent.message_id, reply_markup=YES_NO
        )


async def test_edit_message_reply_markup_of_a_users_message_is_refused(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    message_id = fake_telegram.inject_message(PRIVATE, "hi")["message"]["message_id"]

    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await bot.edit_message_reply_markup(
            chat_id=PRIVATE, message_id=message_id, reply_markup=YES_NO
        )


async def test_callback_data_over_64_bytes_is_refused(bot: Bot) -> None:
    long_data = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Да", callback_data="д" * 33)]]
    )  # 66 bytes in UTF-8

    with pytest.raises(TelegramBadRequest, match="Bad Request: BUTTON_DATA_INVALID"):
        await bot.send_message(PRIVATE, "Начать заново?", reply_markup=long_data)


async def test_the_chat_view_shows_presses_and_their_answers(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    sent = await bot.send_message(PRIVATE, "Начать заново?", reply_markup=YES_NO)
    query_id = fake_telegram.press_button(PRIVATE, "Да")["callback_query"]["id"]
    await bot.answer_callback_query(query_id, text="Начинаю заново")

    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{fake_telegram.control_url}/chats/{PRIVATE}") as response,
    ):
        view = (await response.json())["result"]

    [press] = view["callback_queries"]
    assert (press["message_id"], press["data"]) == (sent.message_id, "yes")
    assert press["answer"]["text"] == "Начинаю заново"
    [message] = view["messages"]
    assert message["reply_markup"] == YES_NO.model_dump(exclude_none=True)
