"""Scripted failures surface in aiogram as the errors Telegram would cause."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)

from services.fakes.telegram import Failure, FakeTelegram
from tests.fakes.telegram import PRIVATE
from tests.plugins.telegram import make_bot


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
