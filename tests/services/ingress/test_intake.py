"""The intake: each update's chat message and answers stored once, and never trimmed."""

from __future__ import annotations

import redis.asyncio as aioredis

from services.ingress.batch import IntakeBatch
from services.ingress.intake import Intake
from shared import keys
from shared.schemas import IncomingMessage, StoredAnswer, new_id
from shared.sender import Piece
from tests.services.ingress.conftest import KNOWN, KNOWN_USER_ID, queued


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
