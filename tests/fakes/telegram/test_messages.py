"""Messages: blocked users, edits, reply keyboards, message ids, drafts, chat actions."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.types import KeyboardButton, ReplyKeyboardMarkup, ReplyKeyboardRemove
from aiogram.types import Message as AiogramMessage

from services.fakes.telegram import FakeTelegram
from shared.telegram import BadRequest, TelegramClient
from tests.fakes.telegram import GROUP, PRIVATE


async def test_blocked_user_gets_403(bot: Bot, fake_telegram: FakeTelegram) -> None:
    fake_telegram.block(PRIVATE)

    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(PRIVATE, "hello?")
    with pytest.raises(TelegramForbiddenError):
        await bot.send_chat_action(PRIVATE, "typing")

    [update] = await bot.get_updates()  # Telegram tells the bot, too
    assert update.my_chat_member is not None
    assert update.my_chat_member.new_chat_member.status == "kicked"


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
