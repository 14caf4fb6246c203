"""MarkdownV2: reserved characters must be escaped, entities must be closed."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest

from tests.fakes.telegram import PRIVATE


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
