"""The intake: each update's chat message and answers stored once, and never trimmed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, MutableMapping, Sequence
from typing import Any

import pytest
import redis.asyncio as aioredis
import structlog
from prometheus_client.parser import text_string_to_metric_families

from services.fakes.redis_server import free_port
from services.fakes.telegram import FakeTelegram
from services.ingress.app import Ingress
from services.ingress.batch import IntakeBatch
from services.ingress.intake import Intake
from shared import keys
from shared.schemas import IncomingMessage, StoredAnswer, new_id
from shared.sending.pieces import Piece
from tests.services.ingress.conftest import KNOWN, KNOWN_USER_ID, StartIngress, handled, queued

CAP = "5"
STREAM = keys.incoming(keys.partition_of(KNOWN_USER_ID))


def message(update_id: int, text: str) -> IncomingMessage:
    return IncomingMessage(
        user_id=KNOWN_USER_ID,
        telegram_id=KNOWN,
        chat_id=KNOWN,
        message_id=update_id,
        text=text,
        update_id=update_id,
        request_id=new_id(),
    )


def answer(text: str) -> StoredAnswer:
    return StoredAnswer(
        chat_id=KNOWN,
        pieces=[Piece.plain_text(text)],
        owner="test",
        answer_id=new_id(),
        created_at="2026-01-01T00:00:00Z",
    )


def batch_of(update_id: int, text: str, *answers: str) -> IntakeBatch:
    batch = IntakeBatch()
    batch.add(message(update_id, text))
    for said in answers:
        batch.add_answer(update_id, answer(said))
    return batch


async def test_a_script_flush_between_two_stores_neither_loses_nor_fails_an_update(
    redis: aioredis.Redis,
) -> None:
    intake = Intake(redis)
    assert await intake.store(batch_of(1, "first")) == []
    await redis.script_flush()  # what a Redis restart does to loaded scripts
    [stored] = await intake.store(batch_of(2, "second", "an answer"))
    await redis.script_flush()
    assert await intake.store(batch_of(3, "third")) == []

    assert [m.text for m in await queued(redis)] == ["first", "second", "third"]
    assert [p.plain for p in stored.answer.pieces] == ["an answer"]
    assert await redis.xlen(keys.ANSWERS) == 1


# ---------------------------------------------------------------------------
# A backlog at its cap: updates wait at Telegram, nothing is trimmed


async def until(predicate: Callable[[], bool], within: float = 10.0) -> None:
    """Wait until ``predicate()`` holds (for what changes outside the fakes, such as logs)."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 (a log line has no event to wait on)
            await asyncio.sleep(0.01)


def backlog_full_gauge(ingress: Ingress) -> float:
    page = ingress.metrics.exposition().decode()
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            if sample.name == "telegram_bot_incoming_backlog_full":
                return sample.value
    raise AssertionError("no telegram_bot_incoming_backlog_full gauge")


async def fill_the_backlog(fake_telegram: FakeTelegram) -> list[str]:
    """``CAP`` chat messages, each handled and stored (no relay forwards them)."""
    texts = [f"message {n}" for n in range(int(CAP))]
    for text in texts:
        await handled(fake_telegram, fake_telegram.inject_message(KNOWN, text))
    return texts


async def trim_like_a_relay(redis: aioredis.Redis, forwarded: int) -> None:
    """What a relay does once it forwarded the oldest ``forwarded`` entries: XTRIM MINID."""
    entries: list[tuple[bytes, Any]] = await redis.xrange(STREAM, count=forwarded + 1)  # type: ignore[assignment]
    await redis.xtrim(STREAM, minid=entries[forwarded][0], approximate=False)


def events(logs: Sequence[MutableMapping[str, Any]], name: str) -> list[MutableMapping[str, Any]]:
    return [entry for entry in logs if entry["event"] == name]


@pytest.mark.usefixtures("known_user")
async def test_polling_at_a_full_backlog_leaves_the_update_at_telegram_and_trims_nothing(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_ingress: StartIngress
) -> None:
    running = await start_ingress(INCOMING_BACKLOG_MAX=CAP)
    texts = await fill_the_backlog(fake_telegram)

    with structlog.testing.capture_logs() as logs:
        sixth = fake_telegram.inject_message(KNOWN, "one too many")
        await until(lambda: bool(events(logs, "incoming_backlog_full")))

        assert sixth in fake_telegram.pending_updates, "not confirmed: the offset did not move"
        assert [m.text for m in await queued(redis)] == texts, "none of the five trimmed"
        assert backlog_full_gauge(running.ingress) == 1

        await trim_like_a_relay(redis, forwarded=2)
        await handled(fake_telegram, sixth)

    assert [m.text for m in await queued(redis)] == [*texts[2:], "one too many"]
    [full] = events(logs, "incoming_backlog_full")
    assert full["streams"] == [STREAM]
    assert events(logs, "incoming_backlog_drained")
    assert backlog_full_gauge(running.ingress) == 0


@pytest.mark.usefixtures("known_user")
async def test_a_webhook_at_a_full_backlog_refuses_the_update_until_telegram_redelivers_it_later(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_ingress: StartIngress
) -> None:
    port = free_port()
    await start_ingress(
        INCOMING_BACKLOG_MAX=CAP,
        INGRESS_MODE="webhook",
        WEBHOOK_URL=f"http://127.0.0.1:{port}/hook",
        WEBHOOK_SECRET="backlog-secret",
        WEBHOOK_LISTEN=f"127.0.0.1:{port}",
    )
    texts = await fill_the_backlog(fake_telegram)
    delivered = len(fake_telegram.webhook_deliveries)

    with structlog.testing.capture_logs() as logs:
        sixth = fake_telegram.inject_message(KNOWN, "one too many")
        await fake_telegram.wait_for(
            lambda: len(fake_telegram.webhook_deliveries) >= delivered + 3,
            what="three refused deliveries",
        )
        assert [m.text for m in await queued(redis)] == texts
        await trim_like_a_relay(redis, forwarded=1)
        await handled(fake_telegram, sixth)

    statuses = [d.status for d in fake_telegram.webhook_deliveries[delivered:]]
    assert set(statuses[:-1]) == {503}
    assert statuses[-1] == 200
    assert len(events(logs, "incoming_backlog_full")) == 1, "once for the episode"
    assert [m.text for m in await queued(redis)] == [*texts[1:], "one too many"]
