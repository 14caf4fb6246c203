"""Buttons a PO offers (issue 15) as the relay shows them, and their presses as it forwards them.

The ingress's side (claiming a press, editing the question) is in
``tests/services/ingress/test_po_buttons.py``; here presses are written to
the user's partition stream as the ingress writes them.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import redis.asyncio as aioredis

from services.fakes.telegram import FakeTelegram
from services.fakes.workers import FakeWorkerManager, Profile
from shared import keys
from shared.po_buttons import ButtonOffer, OfferedButton
from shared.schemas import IncomingMessage, encode_entry
from tests.services.relay.conftest import StartRelay, chat_of, incoming_message, write_message

USER = 23
CHAT = chat_of(USER)
WEEK_S = 7 * 24 * 60 * 60
FULL_DATA = "d" * 256
"""As much data as a button may carry (CONTRACTS.md), four times Telegram's 64 bytes."""
BUTTONS = [
    [{"text": "Yes", "data": "yes:" + FULL_DATA[4:]}, {"text": "No", "data": "no"}],
    [{"text": "Show the diff", "data": "diff"}],
]


@pytest.fixture(params=["seed", "worker-streams"])
def po_contract(request: pytest.FixtureRequest) -> Profile:
    """Both profiles with per-user workers carry buttons (``po-service`` has no place for them)."""
    profile: Profile = request.param
    return profile


def keyboard(message: dict[str, Any]) -> list[list[dict[str, str]]]:
    rows: list[list[dict[str, str]]] = message.get("reply_markup", {}).get("inline_keyboard", [])
    return rows


async def offer_behind(redis: aioredis.Redis, callback_data: str) -> tuple[ButtonOffer, int]:
    """The record a button's callback data points at, and its TTL (s)."""
    _, key, _ = callback_data.split(":")
    raw: Any = await redis.get(keys.po_buttons(key))
    ttl: Any = await redis.ttl(keys.po_buttons(key))
    return msgspec.json.decode(raw, type=ButtonOffer), int(ttl)


async def write_press(
    redis: aioredis.Redis, label: str, data: str, reply_to: str, message_id: int
) -> None:
    """What the ingress queues for a press it claimed."""
    base = incoming_message(USER, label)
    fields = {name: getattr(base, name) for name in base.__struct_fields__}
    fields |= {"kind": "button", "reply_to": reply_to, "data": data, "message_id": message_id}
    press = encode_entry(IncomingMessage(**fields))
    await redis.xadd(keys.incoming(keys.partition_of(USER)), press)  # type: ignore[arg-type]


async def test_a_reply_with_buttons_shows_them_under_its_last_part_and_keeps_their_data(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
    po_contract: Profile,
) -> None:
    fake_telegram.lift_flood_limits()
    fake_workers.script(USER, buttons=BUTTONS, reply=lambda m: "word " * 1200)  # two parts
    await start_relay()

    await write_message(redis, USER, "deploy?")
    first, last = await fake_telegram.wait_for_messages(CHAT, 2, timeout=10)

    assert "reply_markup" not in first
    labels = [[b["text"] for b in row] for row in keyboard(last)]
    assert labels == [["Yes", "No"], ["Show the diff"]]
    data = [b["callback_data"] for row in keyboard(last) for b in row]
    assert all(d.startswith("pb1:") and len(d.encode()) <= 64 for d in data)
    offer, ttl = await offer_behind(redis, data[0])
    assert offer.buttons == [
        OfferedButton("Yes", "yes:" + FULL_DATA[4:]),
        OfferedButton("No", "no"),
        OfferedButton("Show the diff", "diff"),
    ]
    # The wrapper (``worker-streams``) names no request in its output: nor can the press.
    answered = fake_workers.inputs[0].request_id if po_contract == "seed" else ""
    assert (offer.user_id, offer.reply_to) == (USER, answered)
    assert WEEK_S - 60 < ttl <= WEEK_S


async def test_a_press_reaches_the_po_as_a_button_entry_in_order_after_an_earlier_message(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
    po_contract: Profile,
) -> None:
    fake_telegram.lift_flood_limits()
    fake_workers.script(USER, buttons=BUTTONS)
    await start_relay()
    await write_message(redis, USER, "deploy?")
    (question,) = await fake_telegram.wait_for_messages(CHAT, 1, timeout=10)

    await write_message(redis, USER, "and one more thing")
    await write_press(redis, "Yes", FULL_DATA, fake_workers.inputs[0].request_id, 9)
    await fake_workers.wait_for(lambda: len(fake_workers.inputs) == 3, within=10)

    assert [m.text for m in fake_workers.inputs] == ["deploy?", "and one more thing", "Yes"]
    (pressed,) = fake_workers.buttons
    assert (pressed.type, pressed.reply_to, pressed.data) == (
        "button",
        fake_workers.inputs[0].request_id,
        FULL_DATA,
    )
    assert question["text"] == "echo: deploy?"


async def test_a_press_is_answered_like_a_message_and_gets_no_reaction(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_telegram.lift_flood_limits()
    await start_relay()

    await write_press(redis, "No", "no", "req-0", 9)
    await fake_telegram.wait_for_messages(CHAT, 1, timeout=10)

    assert fake_telegram.chat(CHAT).texts == ["echo: No"]
    assert fake_telegram.calls_to("setMessageReaction") == []


@pytest.mark.parametrize(
    "buttons",
    [
        "yes or no",
        [{"text": "Yes", "data": "y"}],  # a row that is not a list
        [[{"text": "Yes"}]],  # no data
        [[{"text": "", "data": "y"}]],
        [[{"text": "Yes", "data": 1}]],
        [[{"text": str(n), "data": str(n)}] for n in range(9)],  # more than 8 rows
        [[{"text": str(n), "data": str(n)} for n in range(5)]],  # more than 4 a row
    ],
)
async def test_malformed_buttons_still_deliver_the_text_without_a_keyboard(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
    buttons: object,
) -> None:
    fake_telegram.lift_flood_limits()
    fake_workers.script(USER, buttons=buttons)
    await start_relay()

    await write_message(redis, USER, "deploy?")
    (reply,) = await fake_telegram.wait_for_messages(CHAT, 1, timeout=10)

    assert reply["text"] == "echo: deploy?"
    assert "reply_markup" not in reply


async def test_a_long_label_is_cut_and_a_button_with_too_much_data_is_left_out(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_telegram.lift_flood_limits()
    long_label = "Deploy " + "now " * 30
    buttons = [[{"text": long_label, "data": "go"}, {"text": "Too much", "data": "x" * 257}]]
    fake_workers.script(USER, buttons=buttons)
    await start_relay()

    await write_message(redis, USER, "deploy?")
    (reply,) = await fake_telegram.wait_for_messages(CHAT, 1, timeout=10)

    assert [[b["text"] for b in row] for row in keyboard(reply)] == [[long_label[:63] + "…"]]


async def test_buttons_expire_after_po_buttons_ttl_s(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    fake_telegram.lift_flood_limits()
    fake_workers.script(USER, buttons=BUTTONS)
    await start_relay(PO_BUTTONS_TTL_S="90")

    await write_message(redis, USER, "deploy?")
    (reply,) = await fake_telegram.wait_for_messages(CHAT, 1, timeout=10)

    _, ttl = await offer_behind(redis, keyboard(reply)[0][0]["callback_data"])
    assert 0 < ttl <= 90
