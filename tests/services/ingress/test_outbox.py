"""The ingress's answers: stored with their update, then sent in the background, bounded.

The tests that drive the outbox by hand store its batches exactly as the
ingress does (``Intake.store``), then wait for the courier to send them.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
import structlog
from redis.typing import EncodableT, FieldT

from services.fakes.api import FakeApi
from services.fakes.redis_server import RedisServer
from services.fakes.telegram import Failure, FakeTelegram
from services.ingress.batch import IntakeBatch
from services.ingress.courier import PER_CHAT, Courier
from services.ingress.intake import Intake
from services.ingress.outbox import Mark, Outbox
from shared import keys
from shared.ratelimit import FloodBudget, FloodLimiter
from shared.schemas import DATA_FIELD, StoredAnswer, decode_entry, encode, new_id
from shared.sending.pieces import Piece
from shared.sending.sender import Sender
from shared.texts import RU
from tests.plugins.telegram import make_client
from tests.services.ingress.conftest import (
    KNOWN,
    StartIngress,
    handled,
    queued,
    refused_while_redis_is_down,
)

OTHER = 1003


@dataclass
class Answers:
    """One process's answering side, driven by hand: its batches stored as the ingress does."""

    courier: Courier
    intake: Intake
    update_ids: Iterator[int]
    batch: IntakeBatch = field(default_factory=IntakeBatch)

    def outbox(self) -> Outbox:
        """The outbox a handler of the next update in the current batch gets."""
        return Outbox(self.courier, self.batch, next(self.update_ids))

    async def store(self) -> IntakeBatch:
        """Store the current batch, hand its answers to the courier, and start a new one."""
        batch, self.batch = self.batch, IntakeBatch()
        self.courier.queue(await self.intake.store(batch))
        return batch


OpenAnswers = Callable[..., Awaitable[Answers]]


@pytest.fixture
async def open_answers(
    fake_telegram: FakeTelegram, redis: aioredis.Redis
) -> AsyncIterator[OpenAnswers]:
    """``await open_answers()``: a courier (started: alive and recovering) and its intake."""
    update_ids = itertools.count(1)
    opened: list[tuple[Courier, Any]] = []

    async def open_(
        *,
        per_chat: int = PER_CHAT,
        budget: FloodBudget | None = None,
        start: bool = True,
        **courier: Any,
    ) -> Answers:
        """``start=False``: alive, but no background scans (``recover()`` by hand)."""
        client = make_client(fake_telegram)
        sender = Sender(client, redis, budget or FloodBudget(global_per_s=1_000))
        answers = Courier(sender, per_chat=per_chat, **courier)
        opened.append((answers, client))
        if start:
            await answers.start()
        else:
            await redis.set(keys.ingress_alive(answers.instance), 1, px=60_000)
        return Answers(answers, Intake(redis), update_ids)

    yield open_
    for answers, client in opened:
        await answers.close(0)
        await client.close()


@pytest.fixture
def other_user(fake_api: FakeApi) -> dict[str, Any]:
    return fake_api.add_user(OTHER, username="bob", user_id=8)


async def confirmed(fake_telegram: FakeTelegram, update: dict[str, Any]) -> None:
    """Confirmed by the ingress (handled and stored), whether or not answered yet."""
    await fake_telegram.wait_for(
        lambda: all(u["update_id"] != update["update_id"] for u in fake_telegram.pending_updates),
        what="update confirmed",
    )


@pytest.mark.usefixtures("known_user", "other_user")
async def test_a_429_on_one_users_answer_holds_up_neither_intake_nor_other_users(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_ingress: StartIngress
) -> None:
    running = await start_ingress()
    fake_telegram.fail_next("sendMessage", Failure.too_many_requests(4), chat_id=KNOWN)
    fake_telegram.inject_message(KNOWN, "/help")
    throttled = await fake_telegram.wait_for_call("sendMessage", where=lambda c: c.status == 429)

    await confirmed(fake_telegram, fake_telegram.inject_message(OTHER, "hello"))
    fake_telegram.inject_message(OTHER, "/help")
    await fake_telegram.wait_for_messages(OTHER, 2)

    assert [m.text for m in await queued(redis)] == ["hello"]
    assert fake_telegram.chat(OTHER).texts == [RU.keyboard_note, RU.help]
    assert fake_telegram.chat(KNOWN).texts == [], "still honouring retry_after"
    await asyncio.wait_for(running.ingress.courier.join(), 10)
    assert fake_telegram.chat(KNOWN).texts == [RU.help]
    [retried] = [
        c for c in fake_telegram.calls_to("sendMessage") if str(c.params["chat_id"]) == str(KNOWN)
    ][1:]
    assert retried.started - throttled.finished >= 4 * 0.99


@pytest.mark.usefixtures("known_user")
async def test_answers_to_one_chat_go_out_in_the_order_asked(
    fake_telegram: FakeTelegram, start_ingress: StartIngress
) -> None:
    await start_ingress()
    for text in ["/help", "/nope", "/help"]:
        fake_telegram.inject_message(KNOWN, text)
    await handled(fake_telegram, fake_telegram.inject_message(KNOWN, "/start"))

    texts = fake_telegram.chat(KNOWN).texts
    assert len(texts) == 4
    assert texts[0] == texts[2] == texts[3] == RU.help
    assert texts[1].startswith(RU.unknown_command.format(command="/nope"))


async def test_a_chats_backlog_past_its_bound_drops_new_answers_only(
    fake_telegram: FakeTelegram, open_answers: OpenAnswers
) -> None:
    answers = await open_answers(per_chat=3)
    # The chat is paused by a 429: its answers wait while more are asked for.
    fake_telegram.fail_next("sendMessage", Failure.too_many_requests(1), chat_id=KNOWN)
    accepted = [answers.outbox().say(KNOWN, f"answer {n}") for n in range(5)]
    other = answers.outbox().say(OTHER, "elsewhere")
    await answers.store()
    later = answers.outbox().say(KNOWN, "one more")  # the three are still waiting
    await answers.courier.join()

    assert accepted == [True, True, True, False, False]
    assert other
    assert not later
    assert fake_telegram.chat(KNOWN).texts == ["answer 0", "answer 1", "answer 2"]
    assert fake_telegram.chat(OTHER).texts == ["elsewhere"]


async def test_an_html_answer_that_telegram_cannot_parse_is_sent_as_its_visible_text(
    fake_telegram: FakeTelegram, open_answers: OpenAnswers
) -> None:
    answers = await open_answers()
    fake_telegram.fail_next(
        "sendMessage",
        Failure.error(400, "Bad Request: can't parse entities: unsupported start tag"),
    )
    answers.outbox().say(KNOWN, "<b>Проекты</b>\n1 &lt; 2", html=True)
    await answers.store()
    await answers.courier.join()

    assert fake_telegram.chat(KNOWN).texts == ["Проекты\n1 < 2"]


async def test_an_answer_marked_only_if_new_goes_out_once_while_its_key_lives(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, open_answers: OpenAnswers
) -> None:
    answers = await open_answers()
    mark = Mark("test:mark", 3600, only_if_new=True)
    assert answers.outbox().say(KNOWN, "first", mark=mark)
    assert answers.outbox().say(KNOWN, "second", mark=mark)
    answers.outbox().say(KNOWN, "unmarked")
    await answers.store()
    await answers.courier.join()

    assert fake_telegram.chat(KNOWN).texts == ["first", "unmarked"]
    assert 3500 < await redis.ttl("test:mark") <= 3600


async def test_a_marked_answer_goes_out_without_set_nx_get_which_needs_redis_7(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, open_answers: OpenAnswers
) -> None:
    answers = await open_answers()
    mark = Mark("test:mark", 3600, only_if_new=True)
    answers.outbox().say(KNOWN, "first", mark=mark)
    answers.outbox().say(KNOWN, "second", mark=mark)
    async with redis.monitor() as monitor, asyncio.timeout(10):
        await answers.store()
        await answers.courier.join()
        await redis.echo("sent")
        commands: list[list[str]] = []
        while (command := (await monitor.next_command())["command"]) != "ECHO sent":
            commands.append(command.upper().split())

    marks = [words for words in commands if words[:2] == ["SET", "TEST:MARK"]]
    assert marks, "the mark was set"
    assert all("GET" not in words for words in marks), marks
    assert fake_telegram.chat(KNOWN).texts == ["first"]


async def test_an_edit_changes_the_message_in_its_place_in_the_chats_order(
    fake_telegram: FakeTelegram, open_answers: OpenAnswers
) -> None:
    answers = await open_answers(budget=FloodBudget(global_per_s=1_000, chat_per_s=100))
    fake_telegram.lift_flood_limits()
    answers.outbox().say(KNOWN, "<b>page 1</b>", html=True)
    await answers.store()
    await answers.courier.join()
    [message] = fake_telegram.chat(KNOWN).sent
    buttons = {"inline_keyboard": [[{"text": "▶", "callback_data": "next"}]]}
    assert answers.outbox().edit(
        KNOWN, message["message_id"], "<b>page 2</b>", html=True, reply_markup=buttons
    )
    answers.outbox().say(KNOWN, "after")
    await answers.store()
    await answers.courier.join()

    edited, after = fake_telegram.chat(KNOWN).sent
    assert edited["text"] == "page 2"
    assert edited["reply_markup"] == buttons
    assert after["text"] == "after"
    methods = [c.method for c in fake_telegram.calls if c.method != "getMe"]
    assert methods == ["sendMessage", "editMessageText", "sendMessage"]


async def test_an_edit_longer_than_one_message_is_refused(
    fake_telegram: FakeTelegram, open_answers: OpenAnswers
) -> None:
    answers = await open_answers()
    assert not answers.outbox().edit(KNOWN, 1, "x " * 5000)
    batch = await answers.store()
    await answers.courier.join()

    assert not batch.answers
    assert fake_telegram.calls_to("editMessageText") == []


# ---------------------------------------------------------------------------
# Durable answers: stored with their update, sent once, taken over after a crash


async def stored_answers(redis: aioredis.Redis) -> list[StoredAnswer]:
    entries: list[tuple[bytes, dict[bytes, bytes]]] = await redis.xrange(keys.ANSWERS)  # type: ignore[assignment]
    return [decode_entry(fields, StoredAnswer) for _id, fields in entries]


def an_answer(text: str, *, owner: str, age_s: float = 0.0) -> dict[FieldT, EncodableT]:
    """The fields of a ``bot:answers`` entry, as an ingress named ``owner`` stores one."""
    created = datetime.now(UTC) - timedelta(seconds=age_s)
    answer = StoredAnswer(
        chat_id=KNOWN,
        pieces=[Piece.plain_text(text)],
        owner=owner,
        answer_id=new_id(),
        created_at=created.isoformat().replace("+00:00", "Z"),
    )
    return {DATA_FIELD: encode(answer)}


@pytest.mark.usefixtures("known_user")
async def test_an_answer_is_in_redis_when_its_update_is_confirmed_and_gone_once_sent(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_ingress: StartIngress
) -> None:
    running = await start_ingress()
    fake_telegram.fail_next("sendMessage", Failure.too_many_requests(1), chat_id=KNOWN)
    await confirmed(fake_telegram, fake_telegram.inject_message(KNOWN, "/help"))
    await fake_telegram.wait_for_call("sendMessage", where=lambda c: c.status == 429)

    [answer] = await stored_answers(redis)
    assert (answer.chat_id, answer.owner) == (KNOWN, running.ingress.courier.instance)
    assert [piece.plain for piece in answer.pieces] == [RU.help]
    assert fake_telegram.chat(KNOWN).texts == []

    await asyncio.wait_for(running.ingress.courier.join(), 10)
    assert fake_telegram.chat(KNOWN).texts == [RU.help]
    assert await redis.xlen(keys.ANSWERS) == 0


@pytest.mark.usefixtures("known_user")
async def test_an_update_delivered_again_after_it_was_answered_is_not_answered_again(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_ingress: StartIngress
) -> None:
    first = await start_ingress()
    update = fake_telegram.inject_message(KNOWN, "/help")
    await handled(fake_telegram, update)
    await first.finish()

    # Telegram delivers it again (to a new poller: offsets are per process).
    fake_telegram.inject_update(update, assign_id=False)
    await start_ingress()
    await handled(fake_telegram, update)

    assert fake_telegram.chat(KNOWN).texts == [RU.help]
    assert len(fake_telegram.calls_to("sendMessage")) == 1
    assert await redis.xlen(keys.ANSWERS) == 0


@pytest.mark.usefixtures("known_user")
async def test_an_answer_redis_could_not_store_is_not_sent_and_goes_out_once_redis_is_back(
    fake_telegram: FakeTelegram,
    start_ingress: StartIngress,
    webhook_env: dict[str, str],
    own_redis: RedisServer,
) -> None:
    await start_ingress(REDIS_URL=own_redis.url, **webhook_env)

    update = await refused_while_redis_is_down(fake_telegram, own_redis, KNOWN, "/help")
    assert fake_telegram.calls_to("sendMessage") == []  # handled twice, answered never
    own_redis.start()
    await handled(fake_telegram, update)

    statuses = [d.status for d in fake_telegram.webhook_deliveries]
    assert set(statuses[:-1]) == {503}
    assert statuses[-1] == 200
    assert fake_telegram.chat(KNOWN).texts == [RU.help]


async def test_an_answer_telegram_accepted_before_a_crash_is_not_shown_twice_by_its_new_owner(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, open_answers: OpenAnswers
) -> None:
    crashed = await open_answers()
    crashed.outbox().say(KNOWN, "only once")
    [stored] = (await crashed.store()).answers
    await crashed.courier.join()
    await crashed.courier.close(0)
    # What a kill -9 between Telegram's answer and the XDEL leaves: the answer
    # sent (and recorded under its key), its entry still there, its owner gone.
    await redis.xadd(keys.ANSWERS, {DATA_FIELD: stored.data})

    heir = await open_answers(start=False)
    assert await heir.courier.recover() == 1
    await heir.courier.join()

    assert fake_telegram.chat(KNOWN).texts == ["only once"]
    assert len(fake_telegram.calls_to("sendMessage")) == 1
    assert await redis.xlen(keys.ANSWERS) == 0


async def test_an_answer_whose_owner_is_alive_is_left_to_it(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, open_answers: OpenAnswers
) -> None:
    await redis.set(keys.ingress_alive("busy"), 1, px=60_000)
    await redis.xadd(keys.ANSWERS, an_answer("mine", owner="busy"))

    other = await open_answers(start=False)

    assert await other.courier.recover() == 0
    assert await other.courier.recover() == 0
    [left] = await stored_answers(redis)
    assert left.owner == "busy"
    assert fake_telegram.chat(KNOWN).texts == []


async def test_an_answer_of_a_dead_owner_is_taken_over_exactly_once_by_two_recovering_processes(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, open_answers: OpenAnswers
) -> None:
    await redis.xadd(keys.ANSWERS, an_answer("orphan", owner="gone"))
    one, two = await open_answers(start=False), await open_answers(start=False)

    taken = await asyncio.gather(one.courier.recover(), two.courier.recover())
    await asyncio.gather(one.courier.join(), two.courier.join())

    assert sorted(taken) == [0, 1]
    assert fake_telegram.chat(KNOWN).texts == ["orphan"]
    assert await redis.xlen(keys.ANSWERS) == 0
    assert await one.courier.recover() == await two.courier.recover() == 0


async def test_answers_of_a_dead_owner_go_out_in_the_order_they_were_stored(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, open_answers: OpenAnswers
) -> None:
    for n in range(3):
        await redis.xadd(keys.ANSWERS, an_answer(f"answer {n}", owner="gone"))
    heir = await open_answers(start=False)

    assert await heir.courier.recover() == 3
    await heir.courier.join()

    assert fake_telegram.chat(KNOWN).texts == ["answer 0", "answer 1", "answer 2"]
    assert len(fake_telegram.calls_to("sendMessage")) == 3


async def test_an_answer_too_old_when_taken_over_is_dropped_with_one_log_line(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, open_answers: OpenAnswers
) -> None:
    await redis.xadd(keys.ANSWERS, an_answer("stale", owner="gone", age_s=2 * 3600))
    heir = await open_answers(start=False, max_age_s=3600)

    with structlog.testing.capture_logs() as logs:
        assert await heir.courier.recover() == 0

    assert await redis.xlen(keys.ANSWERS) == 0
    assert [e["chat_id"] for e in logs if e["event"] == "answer_expired"] == [KNOWN]
    assert fake_telegram.calls_to("sendMessage") == []


async def test_an_own_answer_this_process_lost_track_of_is_sent_after_two_scans(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, open_answers: OpenAnswers
) -> None:
    # A store whose reply was lost after the script ran leaves just this.
    answers = await open_answers(start=False)
    await redis.xadd(keys.ANSWERS, an_answer("lost", owner=answers.courier.instance))

    assert await answers.courier.recover() == 0  # maybe its store's reply is on the way
    assert await answers.courier.recover() == 1
    await answers.courier.join()

    assert fake_telegram.chat(KNOWN).texts == ["lost"]
    assert await redis.xlen(keys.ANSWERS) == 0


async def test_a_closing_process_leaves_its_unsent_answers_for_the_next_one_at_once(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, open_answers: OpenAnswers
) -> None:
    leaving = await open_answers()
    fake_telegram.fail_next("sendMessage", Failure.too_many_requests(60), chat_id=KNOWN)
    leaving.outbox().say(KNOWN, "later")
    await leaving.store()
    await fake_telegram.wait_for_call("sendMessage", where=lambda c: c.status == 429)
    await leaving.courier.close(0)  # SIGTERM's grace period, run out
    await redis.delete(FloodLimiter(redis).chat_pause_key(KNOWN))  # the 429 is over

    heir = await open_answers(start=False)
    assert await heir.courier.recover() == 1  # no alive TTL to wait out
    await heir.courier.join()

    assert fake_telegram.chat(KNOWN).texts == ["later"]
