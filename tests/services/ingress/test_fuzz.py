"""Fuzzing update shapes through the real dispatcher path.

Hypothesis builds updates of every shape, sane and hostile (wrong types,
unknown update kinds, odd chats, lone surrogates, huge texts), and feeds
them, as raw JSON would arrive, through the same ``UpdateProcessor`` and
``Intake`` that polling and the webhook use: real aiogram, real HTTP to the
fake Telegram and the fake API, real Redis. Properties: nothing ever
escapes (the ingress does not crash), and nothing from a stranger is ever
queued or asked of the API beyond the user lookup.

Hypothesis drives a synchronous test, so this file runs its own event
loop for the fakes and the ingress, one for all examples.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from services.fakes.api import FakeApi
from services.fakes.telegram import FakeTelegram
from services.ingress.app import Ingress
from tests.plugins.telegram import make_bot
from tests.services.ingress.conftest import ADMIN, KNOWN, ingress_settings
from tests.services.ingress.conftest import queued as queued_messages

T = TypeVar("T")

KNOWN_IDS = (KNOWN, ADMIN)
STRANGERS = (666, 777)
USERS_PATHS = ("/api/users", "/api/users/")


@dataclass
class Rig:
    loop: asyncio.AbstractEventLoop
    ingress: Ingress
    fake_api: FakeApi
    redis: aioredis.Redis
    outcomes: Counter[str]

    def run(self, work: Awaitable[T]) -> T:
        return self.loop.run_until_complete(work)


@pytest.fixture
def rig(redis_url: str) -> Iterator[Rig]:
    loop = asyncio.new_event_loop()
    stack = contextlib.AsyncExitStack()

    async def setup() -> Rig:
        fake_telegram = await stack.enter_async_context(FakeTelegram())
        fake_telegram.lift_flood_limits()
        fake_api = await stack.enter_async_context(FakeApi())
        fake_api.add_user(KNOWN, user_id=7)
        fake_api.add_user(ADMIN, user_id=8, is_admin=True)
        fake_api.add_project(KNOWN, "<b>p & q")
        bot = make_bot(fake_telegram)
        stack.push_async_callback(bot.session.close)
        settings = ingress_settings(fake_telegram, fake_api, redis_url)
        ingress = await stack.enter_async_context(Ingress.open(settings, bot=bot))
        redis = aioredis.Redis.from_url(redis_url)
        stack.push_async_callback(redis.aclose)
        return Rig(loop, ingress, fake_api, redis, Counter())

    try:
        yield loop.run_until_complete(setup())
    finally:
        loop.run_until_complete(stack.aclose())
        loop.close()


# --- strategies ---------------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
hostile_text = st.one_of(
    st.text(min_size=1, max_size=300),
    st.text(st.characters(codec=None, categories=None), min_size=1, max_size=50),
    st.sampled_from(
        ["/projects", "/servers", "/tasks", "/help", "/start", "/foo bar", "/", "\ud800", "x\udfff"]
    ),
    st.just("Ω" * 100_000),
)


@st.composite
def ids(draw: st.DrawFn) -> int:
    """Mostly the ids that matter (known, strangers), sometimes any integer at all."""
    # Hypothesis favours 0 (where it shrinks to), so 0 picks the common case.
    if draw(st.integers(0, 4)) == 4:
        return draw(st.integers(-(2**63), 2**63))
    known_twice_as_often: tuple[int, ...] = KNOWN_IDS + KNOWN_IDS + STRANGERS
    return draw(st.sampled_from(known_twice_as_often))


def corrupted(draw: st.DrawFn, obj: dict[str, Any]) -> dict[str, Any]:
    """``obj``, or now and then ``obj`` with one field dropped, replaced or added."""
    how = draw(st.integers(0, 17))
    key = draw(st.sampled_from(sorted(obj))) if obj else "x"
    if how == 17:
        obj = {k: v for k, v in obj.items() if k != key}
    elif how == 16:
        obj = {**obj, key: draw(json_values)}
    elif how == 15:
        obj = {**obj, draw(st.text(max_size=10)): draw(json_values)}
    return obj


@st.composite
def people(draw: st.DrawFn) -> dict[str, Any]:
    person = {"id": draw(ids()), "is_bot": False, "first_name": draw(st.text(max_size=5))}
    return corrupted(draw, person)


@st.composite
def chats(draw: st.DrawFn, sender: dict[str, Any]) -> dict[str, Any]:
    kind = draw(st.sampled_from(["private"] * 4 + ["group", "supergroup", "channel", "??"]))
    chat_id = sender.get("id") if kind == "private" and draw(st.integers(0, 4)) < 4 else draw(ids())
    return corrupted(draw, {"id": chat_id, "type": kind})


@st.composite
def messages(draw: st.DrawFn) -> dict[str, Any]:
    sender = draw(people())
    message: dict[str, Any] = {
        "message_id": draw(st.integers(1, 10**6)),
        "date": draw(st.integers(0, 2**31)),
        "chat": draw(chats(sender)),
        "from": sender,
    }
    content = draw(st.sampled_from(["text"] * 4 + ["caption", "photo", "sticker", "nothing"]))
    if content == "text":
        message["text"] = draw(hostile_text)
    elif content == "caption":
        message["caption"] = draw(hostile_text)
        message["photo"] = [{"file_id": "a", "file_unique_id": "b", "width": 1, "height": 1}]
    elif content == "photo":
        message["photo"] = draw(json_values)
    elif content == "sticker":
        message["sticker"] = {"file_id": "a", "file_unique_id": "b", "type": "regular"}
    if draw(st.integers(0, 3)) == 3:
        message["entities"] = draw(st.one_of(json_values, st.just([{"type": "bot_command"}])))
    return corrupted(draw, message)


update_counter = iter(range(10**9, 2 * 10**9))


@st.composite
def updates(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["message"] * 4 + ["edited_message", "callback_query", "unknown"]))
    body: Any
    if kind == "callback_query":
        body = {"id": "1", "from": draw(people()), "chat_instance": "c", "data": "x"}
    elif kind == "unknown":
        kind = draw(st.text(min_size=1, max_size=15))
        body = {"from": draw(people()), "junk": draw(json_values)}
    else:
        body = draw(messages())
    update: dict[str, Any] = {"update_id": next(update_counter), kind: body}
    shape = draw(st.integers(0, 19))
    if shape == 19:
        return draw(json_values)  # not an update at all
    if shape == 18:
        update["update_id"] = draw(json_values)
    return update


# --- the property ---------------------------------------------------------------


def sender_of(raw: Any) -> Any:
    if not isinstance(raw, dict):
        return None
    for value in raw.values():
        if isinstance(value, dict) and isinstance(value.get("from"), dict):
            return value["from"].get("id")
    return None


def private_text(update_id: int, sender: int, text: str) -> dict[str, Any]:
    chat = {"id": sender, "type": "private", "first_name": "A"}
    person = {"id": sender, "is_bot": False, "first_name": "A"}
    message = {"message_id": 1, "date": 0, "chat": chat, "from": person, "text": text}
    return {"update_id": update_id, "message": message}


# Always tried, whatever Hypothesis draws: both sides of the gate, and the nastiest texts.
ALWAYS_QUEUED = [
    private_text(1, KNOWN, "hello"),
    private_text(2, ADMIN, "lone \ud800 surrogate"),
    private_text(3, KNOWN, "Ω" * 100_000),
]
NEVER_QUEUED = [
    private_text(4, STRANGERS[0], "hello"),
    private_text(5, KNOWN, ""),
    {"update_id": 6, "brand_new_kind": {"from": {"id": KNOWN}}},
]


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raw=updates())
@example(raw=ALWAYS_QUEUED[0])
@example(raw=ALWAYS_QUEUED[1])
@example(raw=ALWAYS_QUEUED[2])
@example(raw=NEVER_QUEUED[0])
@example(raw=NEVER_QUEUED[1])
@example(raw=NEVER_QUEUED[2])
def check_one_update(rig: Rig, raw: Any) -> None:
    before = len(rig.fake_api.requests)
    batch = rig.run(rig.ingress.processor.handle([raw]))
    rig.run(rig.ingress.intake.store(batch))

    sender = sender_of(raw)
    queued = list(batch.pending)
    if queued:
        assert sender in KNOWN_IDS, f"a stranger's message was queued: {raw!r}"
    for request in rig.fake_api.requests[before:]:
        if request.path not in USERS_PATHS:
            assert request.headers.get("X-Telegram-ID") in {str(i) for i in KNOWN_IDS}
    rig.outcomes["queued" if queued else "not_queued"] += 1


def test_fuzzed_updates_never_crash_the_ingress_nor_let_a_stranger_through(rig: Rig) -> None:
    check_one_update(rig)

    # The fuzz reached both sides of the gate, or it proved little.
    assert rig.outcomes["queued"] >= len(ALWAYS_QUEUED)
    assert rig.outcomes["not_queued"] >= len(NEVER_QUEUED)
    assert len(rig.run(queued_messages(rig.redis))) == rig.outcomes["queued"]
