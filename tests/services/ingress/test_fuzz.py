"""Fuzzing update shapes through the real dispatcher path.

Hypothesis builds updates of every shape, sane and hostile (wrong types,
unknown update kinds, odd chats, lone surrogates, huge texts), and feeds
them, as raw JSON would arrive, through the same ``UpdateProcessor`` and
``Intake`` that polling and the webhook use: real aiogram, real HTTP to the
fake Telegram and the fake API, real Redis. A smaller run posts them to the
real webhook over HTTP, as Telegram would.

Properties, for every example:

- no handler failed and no answer's send failed: ``UpdateProcessor.feed``
  catches every exception (a bug must not stall the ingress), so "nothing
  escaped" proves nothing; what counts is that none of ``update_failed``,
  ``courier_failed`` and ``answer_malformed`` was logged;
- nothing from a stranger is queued or asked of the API beyond the user
  lookup;
- the webhook answers 2xx (a bad update never gets better, so it must not
  be retried).

Hypothesis drives a synchronous test, so each test runs its own event
loop for the fakes and the ingress, one for all its examples. Answers are
sent without the per-chat pace (``TELEGRAM_RATE_*``) so that each
example's answers are out, and their failures logged, before it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import Awaitable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
import pytest
import redis.asyncio as aioredis
import structlog
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from services.fakes.api import FakeApi
from services.fakes.redis_server import free_port
from services.fakes.telegram import FakeTelegram
from services.ingress.app import Ingress
from services.ingress.batch import IntakeBatch
from services.ingress.webhook import MAX_BODY_BYTES
from tests.plugins.telegram import make_bot
from tests.services.ingress.conftest import ADMIN, KNOWN, ingress_settings
from tests.services.ingress.conftest import queued as queued_messages

T = TypeVar("T")

KNOWN_IDS = (KNOWN, ADMIN)
STRANGERS = (666, 777)
USERS_PATHS = ("/api/users", "/api/users/")
FAILURES = frozenset({"update_failed", "courier_failed", "answer_malformed"})
"""What the ingress logs when a handler or the sending of an answer raised, or an
answer it stored could not be read back."""
UNPACED = {"TELEGRAM_RATE_CHAT_PER_S": "100000", "TELEGRAM_RATE_GLOBAL_PER_S": "100000"}
FILES_ON = {"FILES_SIGNING_KEY": "f" * 32, "FILES_DOWNLOAD_LIMIT_MB": "20"}
"""Files passed on (attachments), so their path is fuzzed too."""
WEBHOOK_SECRET = "fuzz-secret"
WEBHOOK_PATH = "/telegram/fuzz"


@dataclass
class Rig:
    loop: asyncio.AbstractEventLoop
    ingress: Ingress
    fake_api: FakeApi
    redis: aioredis.Redis
    outcomes: Counter[str] = field(default_factory=Counter)
    webhook_url: str = ""
    http: aiohttp.ClientSession | None = None

    def run(self, work: Awaitable[T]) -> T:
        return self.loop.run_until_complete(work)

    async def store(self, batch: IntakeBatch) -> None:
        """Store ``batch`` as the poller does: its answers then go to the courier."""
        self.ingress.courier.queue(await self.ingress.intake.store(batch))

    async def answers_sent(self) -> None:
        """Every answer the example queued has gone out (or failed, and been logged)."""
        await asyncio.wait_for(self.ingress.courier.join(), 10)

    async def post(self, raw: Any) -> int:
        """``raw`` as Telegram would POST it (JSON, non-ASCII escaped); the answer's status."""
        assert self.http is not None
        headers = {
            "Content-Type": "application/json",
            "X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET,
        }
        body = json.dumps(raw).encode()
        async with self.http.post(self.webhook_url, data=body, headers=headers) as response:
            return response.status


@contextlib.contextmanager
def rig_loop(redis_url: str, *, webhook: bool) -> Iterator[Rig]:
    """The fakes and an opened ingress on a loop of their own; with ``webhook``, serving it."""
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
        env = UNPACED | FILES_ON
        port = free_port()
        if webhook:
            env |= {
                "INGRESS_MODE": "webhook",
                "WEBHOOK_URL": f"http://127.0.0.1:{port}{WEBHOOK_PATH}",
                "WEBHOOK_SECRET": WEBHOOK_SECRET,
                "WEBHOOK_LISTEN": f"127.0.0.1:{port}",
            }
        settings = ingress_settings(fake_telegram, fake_api, redis_url, **env)
        ingress = await stack.enter_async_context(Ingress.open(settings, bot=bot))
        redis = aioredis.Redis.from_url(redis_url)
        stack.push_async_callback(redis.aclose)
        rig = Rig(loop, ingress, fake_api, redis)
        if webhook:
            stop = asyncio.Event()
            task = asyncio.create_task(ingress.run(stop), name="ingress")

            async def finish() -> None:
                stop.set()
                assert await asyncio.wait_for(task, 10) == 0

            stack.push_async_callback(finish)
            await fake_telegram.wait_for_call("setWebhook")
            rig.http = await stack.enter_async_context(aiohttp.ClientSession())
            rig.webhook_url = settings.webhook_url or ""
        return rig

    try:
        yield loop.run_until_complete(setup())
    finally:
        loop.run_until_complete(stack.aclose())
        loop.close()


@pytest.fixture
def rig(redis_url: str) -> Iterator[Rig]:
    with rig_loop(redis_url, webhook=False) as opened:
        yield opened


@pytest.fixture
def webhook_rig(redis_url: str) -> Iterator[Rig]:
    with rig_loop(redis_url, webhook=True) as opened:
        yield opened


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


def hostile_file(draw: st.DrawFn) -> dict[str, Any]:
    """A file's fields, Telegram's or not: odd ids, names and sizes."""
    return {
        "file_id": draw(st.one_of(st.just("BQACAgIAAxkBAAI"), hostile_text)),
        "file_unique_id": "b",
        "file_name": draw(hostile_text),
        "mime_type": draw(hostile_text),
        "file_size": draw(st.integers(-1, 2**40)),
        "duration": draw(st.integers(0, 2**31)),
        "width": draw(st.integers(0, 10**5)),
        "height": draw(st.integers(0, 10**5)),
    }


@st.composite
def messages(draw: st.DrawFn) -> dict[str, Any]:
    sender = draw(people())
    message: dict[str, Any] = {
        "message_id": draw(st.integers(1, 10**6)),
        "date": draw(st.integers(0, 2**31)),
        "chat": draw(chats(sender)),
        "from": sender,
    }
    content = draw(
        st.sampled_from(["text"] * 4 + ["caption", "photo", "file", "sticker", "nothing"])
    )
    if content == "text":
        message["text"] = draw(hostile_text)
    elif content == "caption":
        message["caption"] = draw(hostile_text)
        message["photo"] = [{"file_id": "a", "file_unique_id": "b", "width": 1, "height": 1}]
    elif content == "photo":
        message["photo"] = draw(json_values)
    elif content == "file":
        kind = draw(st.sampled_from(["document", "voice", "audio", "video", "animation"]))
        message[kind] = corrupted(draw, hostile_file(draw))
        if draw(st.booleans()):
            message["media_group_id"] = draw(hostile_text)
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


def private_file(update_id: int, sender: int, document: dict[str, Any]) -> dict[str, Any]:
    update = private_text(update_id, sender, "")
    message = update["message"]
    del message["text"]
    message["document"] = {"file_unique_id": "u", **document}
    return update


# Always tried, whatever Hypothesis draws: both sides of the gate, and the nastiest texts.
ALWAYS_QUEUED = [
    private_text(1, KNOWN, "hello"),
    private_text(2, ADMIN, "lone \ud800 surrogate"),
    private_text(3, KNOWN, "Ω" * 100_000),
    private_file(7, KNOWN, {"file_id": "BQACAgIAAxkB", "file_name": "lone \ud800.pdf"}),
    private_file(8, KNOWN, {"file_id": "BQAC", "file_size": 2**40, "mime_type": "x\udfff"}),
]
NEVER_QUEUED = [
    private_text(4, STRANGERS[0], "hello"),
    private_text(5, KNOWN, ""),
    {"update_id": 6, "brand_new_kind": {"from": {"id": KNOWN}}},
    private_text(11, STRANGERS[-1], "lone \ud800 stranger"),  # kept for the access card
]


def failures(logs: Sequence[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    return [event for event in logs if event["event"] in FAILURES]


def check_no_stranger_passed(rig: Rig, raw: Any, queued: int, api_before: int) -> None:
    if queued:
        assert sender_of(raw) in KNOWN_IDS, f"a stranger's message was queued: {raw!r}"
    for request in rig.fake_api.requests[api_before:]:
        if request.path not in USERS_PATHS:
            assert request.headers.get("X-Telegram-ID") in {str(i) for i in KNOWN_IDS}
    rig.outcomes["queued" if queued else "not_queued"] += 1


FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(raw=updates())
@example(raw=ALWAYS_QUEUED[0])
@example(raw=ALWAYS_QUEUED[1])
@example(raw=ALWAYS_QUEUED[2])
@example(raw=ALWAYS_QUEUED[3])
@example(raw=ALWAYS_QUEUED[4])
@example(raw=NEVER_QUEUED[0])
@example(raw=NEVER_QUEUED[1])
@example(raw=NEVER_QUEUED[2])
@example(raw=NEVER_QUEUED[3])
def check_one_update(rig: Rig, raw: Any) -> None:
    before = len(rig.fake_api.requests)
    with structlog.testing.capture_logs() as logs:
        batch = rig.run(rig.ingress.processor.handle([raw]))
        rig.run(rig.store(batch))
        rig.run(rig.answers_sent())

    assert failures(logs) == [], f"handling {raw!r} failed"
    check_no_stranger_passed(rig, raw, len(batch.pending), before)


def test_fuzzed_updates_never_fail_a_handler_nor_let_a_stranger_through(rig: Rig) -> None:
    check_one_update(rig)

    # The fuzz reached both sides of the gate, or it proved little.
    assert rig.outcomes["queued"] >= len(ALWAYS_QUEUED)
    assert rig.outcomes["not_queued"] >= len(NEVER_QUEUED)
    assert len(rig.run(queued_messages(rig.redis))) == rig.outcomes["queued"]


@settings(FUZZ, max_examples=25)
@given(raw=updates())
@example(raw=ALWAYS_QUEUED[0])
@example(raw=ALWAYS_QUEUED[2])
@example(raw=NEVER_QUEUED[0])
@example(raw=NEVER_QUEUED[2])
@example(raw=[1, {"update_id": 9}])
@example(raw=private_text(10, KNOWN, "Ω" * 200_000))  # 1.2 MB as Telegram escapes it: 413
def post_one_update(rig: Rig, raw: Any) -> None:
    before = len(rig.fake_api.requests)
    already = len(rig.run(queued_messages(rig.redis)))
    with structlog.testing.capture_logs() as logs:
        status = rig.run(rig.post(raw))
        rig.run(rig.answers_sent())

    if len(json.dumps(raw).encode()) > MAX_BODY_BYTES:
        # Past anything Telegram sends (a text is at most 4,096 characters): refused whole.
        assert status == 413, f"an oversized body was answered {status}"
    else:
        assert 200 <= status < 300, f"{raw!r} was answered {status}"
    assert failures(logs) == [], f"handling {raw!r} failed"
    queued = rig.run(queued_messages(rig.redis))[already:]
    assert all(message.telegram_id in KNOWN_IDS for message in queued), queued
    check_no_stranger_passed(rig, raw, len(queued), before)


def test_fuzzed_updates_posted_to_the_webhook_are_answered_2xx_and_no_stranger_passes(
    webhook_rig: Rig,
) -> None:
    post_one_update(webhook_rig)

    assert webhook_rig.outcomes["queued"] >= 2
    assert webhook_rig.outcomes["not_queued"] >= 3
