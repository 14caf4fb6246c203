"""Presses of the buttons a PO offered, as the ingress takes them.

Each test plays the relay first: it stores the offer and shows the question
with its keyboard in the chat, exactly as ``services.relay.reply_delivery``
does (``shared.po_buttons``). The relay side is covered in
``tests/services/relay/test_po_buttons.py``, the whole way in
``tests/services/test_po_buttons.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aioredis

from services.fakes.api import FakeApi
from services.fakes.telegram import FakeTelegram, FormattedText
from services.ingress.po_buttons import ButtonPresses
from shared import keys, po_buttons
from shared.po_buttons import OfferedButton
from shared.texts import RU
from tests.services.ingress.conftest import KNOWN, KNOWN_USER_ID, StartIngress, queued
from tests.services.ingress.test_callbacks import data_of, inline_keyboard, press, shown
from tests.services.relay.conftest import wait_for_value

QUESTION = "Deploy to production?"
REQUEST = "req-1"
BUTTONS = (
    (OfferedButton("Yes", "deploy:" + "y" * 120), OfferedButton("No", "deploy:no")),
    (OfferedButton("Later", "later"),),
)
OTHER = 3003
OTHER_USER_ID = 9


class _Reply:
    """What the relay offers buttons for (its ``POReply``)."""

    request_id = REQUEST
    buttons = BUTTONS


@pytest.fixture
async def running(
    fake_telegram: FakeTelegram, known_user: dict[str, Any], start_ingress: StartIngress
) -> None:
    fake_telegram.lift_flood_limits()
    await start_ingress(TELEGRAM_RATE_CHAT_PER_S="100")


async def ask(
    fake_telegram: FakeTelegram,
    redis: aioredis.Redis,
    *,
    ttl_s: int = 60,
    text: str = QUESTION,
) -> dict[str, Any]:
    """What the relay does for a PO reply with ``BUTTONS``: the question as shown."""
    key, offer, markup = po_buttons.offer(KNOWN_USER_ID, "1-0", KNOWN, _Reply())
    await po_buttons.keep(redis, key, offer, ttl_s)
    return fake_telegram.post_bot_message(KNOWN, FormattedText(text), reply_markup=dict(markup))


@pytest.mark.usefixtures("running")
async def test_a_press_is_queued_for_the_po_with_its_label_data_and_the_reply_it_answers(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    question = await ask(fake_telegram, redis)

    assert await press(fake_telegram, question, data_of(question, "Yes")) == ""

    (pressed,) = await queued(redis)
    assert (pressed.kind, pressed.text, pressed.data, pressed.reply_to) == (
        "button",
        "Yes",
        "deploy:" + "y" * 120,
        REQUEST,
    )
    assert (pressed.user_id, pressed.chat_id) == (KNOWN_USER_ID, KNOWN)


@pytest.mark.usefixtures("running")
async def test_the_pressed_keyboard_is_replaced_by_the_chosen_label(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    question = await ask(fake_telegram, redis)

    await press(fake_telegram, question, data_of(question, "No"))

    assert shown(fake_telegram, question)["text"] == f"{QUESTION}\n\n→ No"
    assert inline_keyboard(shown(fake_telegram, question)) == []


@pytest.mark.usefixtures("running")
async def test_a_full_question_keeps_its_text_and_shows_the_label_as_its_only_button(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    full = ("word " * 819).strip()  # 4,094 characters: "→ No" would not fit one message
    question = await ask(fake_telegram, redis, text=full)

    await press(fake_telegram, question, data_of(question, "No"))

    assert shown(fake_telegram, question)["text"] == full
    assert inline_keyboard(shown(fake_telegram, question)) == [["→ No"]]
    assert [m.text for m in await queued(redis)] == ["No"]


@pytest.mark.usefixtures("running")
async def test_a_second_press_is_refused_as_expired_and_nothing_more_reaches_the_po(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    question = await ask(fake_telegram, redis)
    await press(fake_telegram, question, data_of(question, "Yes"))

    assert await press(fake_telegram, question, data_of(question, "Later")) == RU.po_button_expired
    assert await press(fake_telegram, question, data_of(question, "Yes")) == RU.po_button_expired

    assert [m.text for m in await queued(redis)] == ["Yes"]
    assert shown(fake_telegram, question)["text"] == f"{QUESTION}\n\n→ Yes"


@pytest.mark.usefixtures("running")
async def test_a_press_by_another_user_is_refused_and_leaves_the_buttons_to_their_owner(
    fake_telegram: FakeTelegram, fake_api: FakeApi, redis: aioredis.Redis
) -> None:
    fake_api.add_user(OTHER, user_id=OTHER_USER_ID)
    question = await ask(fake_telegram, redis)

    refused = await press(fake_telegram, question, data_of(question, "Yes"), user_id=OTHER)
    assert refused == RU.po_button_expired
    assert await queued(redis) == []
    assert await press(fake_telegram, question, data_of(question, "No")) == ""

    assert [(m.user_id, m.text) for m in await queued(redis)] == [(KNOWN_USER_ID, "No")]


@pytest.mark.parametrize(
    "data",
    [
        "pb1:AAAAAAAAAAAAAAAA:0",  # a key that was never offered
        "pb1:{key}:3",  # a button the offer does not have
        "pb1:{key}:x",
        "pb0:{key}:0",  # another version of the format
        "pb1:{key}",
    ],
)
@pytest.mark.usefixtures("running")
async def test_a_forged_press_is_refused_as_expired(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, data: str
) -> None:
    question = await ask(fake_telegram, redis)
    key = po_buttons.offer_key(KNOWN_USER_ID, "1-0")

    assert await press(fake_telegram, question, data.format(key=key)) == RU.po_button_expired

    assert await queued(redis) == []
    assert inline_keyboard(shown(fake_telegram, question)) == [["Yes", "No"], ["Later"]]


@pytest.mark.usefixtures("running")
async def test_a_press_after_the_buttons_expired_is_refused(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    question = await ask(fake_telegram, redis, ttl_s=1)
    offer = keys.po_buttons(po_buttons.offer_key(KNOWN_USER_ID, "1-0"))
    await wait_for_value(lambda: redis.exists(offer), 0, timeout=5)  # expired in Redis

    assert await press(fake_telegram, question, data_of(question, "Yes")) == RU.po_button_expired
    assert await queued(redis) == []


@pytest.mark.usefixtures("running")
async def test_a_press_never_brings_the_keyboard_note_of_a_chat_message(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> None:
    question = await ask(fake_telegram, redis)

    await press(fake_telegram, question, data_of(question, "Yes"))

    assert RU.keyboard_note not in fake_telegram.chat(KNOWN).texts
    assert await redis.exists(f"bot:keyboard:{KNOWN}") == 0


async def test_the_same_update_delivered_again_still_counts_as_the_one_press(
    redis: aioredis.Redis,
) -> None:
    """Telegram sends an update again when the ingress that claimed it died unconfirmed."""
    key, offer, _ = po_buttons.offer(KNOWN_USER_ID, "1-0", KNOWN, _Reply())
    await po_buttons.keep(redis, key, offer, 60)
    presses = ButtonPresses(redis)

    first = await presses.claim(key, 0, KNOWN_USER_ID, update_id=41)
    again = await presses.claim(key, 0, KNOWN_USER_ID, update_id=41)
    other = await presses.claim(key, 1, KNOWN_USER_ID, update_id=42)

    assert (first, again) == (("ok", offer), ("ok", offer))
    assert other == ("taken", None)
