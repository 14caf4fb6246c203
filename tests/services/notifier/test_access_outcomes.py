"""Access requests, the notifier side: outcomes (the stranger told, the cards edited) and expiry.

Decisions are written as the ingress writes them: the hash's status and
decider, the open set and the stranger's key, and an ``AccessOutcome`` on
``bot:access:outcomes``, in one transaction.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis.asyncio as aioredis

from services.fakes.api import FakeApi
from services.fakes.telegram import Failure, FakeTelegram
from shared.access.records import (
    OPEN,
    OUTCOMES,
    OUTCOMES_GROUP,
    QUEUE,
    AccessOutcome,
    AccessRequest,
    Decision,
    by_user_key,
    request_key,
)
from shared.schemas import encode_entry
from shared.texts import for_language
from tests.plugins.processes import StartService
from tests.processes import ServiceProcess
from tests.services.notifier.test_access_cards import (
    STRANGER,
    access_notifier,
    audited,
    card_ids,
    cards,
    events,
    make_request,
    redis_ms,
    stored,
    wait_for_cards,
    wait_until,
)
from tests.services.notifier.test_notifier import ADMIN, ENV_ADMIN

DECIDED_MS = 1796479800000
"""05.12.2026 14:10 UTC."""
KEYBOARD = {
    "keyboard": [[{"text": "📁 Проекты"}, {"text": "📋 Задачи"}], [{"text": "❓ Помощь"}]],
    "resize_keyboard": True,
}
CARD = (
    "🙋 Запрос доступа\n"
    "Имя: Ада\n"
    "Username: @ada\n"
    f"Telegram ID: {STRANGER}\n"
    "Язык: ru\n"
    "Запрошено: 05.12.2026 14:02 UTC\n"
    "Первое сообщение:\n"
    "—"
)
GRANTED = (
    "Доступ открыт. Теперь ваши сообщения уходят ассистенту; то, что вы писали "
    "до одобрения, не передано — напишите ещё раз. Кнопки под полем ввода — "
    "быстрые действия."
)
REFUSED = "К сожалению, администратор отклонил ваш запрос доступа. Спасибо за понимание."
LAPSED = (
    "Ваш запрос доступа истёк: администраторы не успели его рассмотреть. "
    "Если доступ всё ещё нужен, напишите мне, и я предложу отправить запрос снова."
)


@pytest.fixture(autouse=True)
def _people(fake_telegram: FakeTelegram, fake_api: FakeApi) -> None:
    fake_telegram.lift_flood_limits()
    fake_api.add_user(ADMIN, is_admin=True, user_id=1)


async def decide(
    redis: aioredis.Redis, request: AccessRequest, decision: Decision, *, twice: bool = False
) -> AccessOutcome:
    """Ada (ADMIN) decides, as the ingress records it; ``twice``: the outcome appended twice."""
    outcome = AccessOutcome(
        rid=request.rid,
        decision=decision,
        telegram_id=request.telegram_id,
        chat_id=request.chat_id,
        decided_by=ADMIN,
        decided_by_name="Ада",
        decided_ms=DECIDED_MS,
        keyboard=json.dumps(KEYBOARD, ensure_ascii=False) if decision == "approved" else "",
    )
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(
            request_key(request.rid),
            mapping={
                "status": decision,
                "decided_by": str(ADMIN),
                "decided_by_name": "Ада",
                "decided_ms": str(DECIDED_MS),
            },
        )
        pipe.zrem(OPEN, request.rid)
        pipe.delete(by_user_key(request.telegram_id))
        for _ in range(2 if twice else 1):
            pipe.xadd(OUTCOMES, encode_entry(outcome))  # type: ignore[arg-type]
        await pipe.execute()
    return outcome


async def wait_for_edited_cards(fake_telegram: FakeTelegram, line: str) -> list[dict[str, Any]]:
    """Both admins' cards once they end with ``line``; returned in admin order."""
    await fake_telegram.wait_for(
        lambda: all(
            c and c[0]["text"].endswith(line)
            for c in (cards(fake_telegram, a) for a in (ADMIN, ENV_ADMIN))
        ),
        20,
        what=f"both cards ending {line!r}",
    )
    return [cards(fake_telegram, admin)[0] for admin in (ADMIN, ENV_ADMIN)]


async def wait_for_events(process: ServiceProcess, name: str, count: int) -> None:
    async def logged() -> bool:
        return len(events(process, name)) >= count

    await wait_until(logged)


async def outcomes_pending(redis: aioredis.Redis) -> int:
    summary: Any = await redis.xpending(OUTCOMES, OUTCOMES_GROUP)
    return int(summary["pending"])


async def test_an_approval_tells_the_stranger_once_with_the_keyboard_and_edits_both_cards(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    request = await make_request(redis)
    process = await access_notifier(start_service)
    for admin in (ADMIN, ENV_ADMIN):
        await wait_for_cards(fake_telegram, admin, 1)

    await decide(redis, request, "approved", twice=True)  # a replay tells nobody again

    edited = await wait_for_edited_cards(fake_telegram, "✅ Одобрено: Ада, 14:10")
    await wait_for_events(process, "access_outcome_delivered", 2)
    for card in edited:
        assert card["text"] == f"{CARD}\n\n✅ Одобрено: Ада, 14:10"
        assert "reply_markup" not in card  # the buttons are gone
    stranger = fake_telegram.chat(STRANGER)
    assert stranger.texts == [GRANTED]
    assert stranger.keyboard == KEYBOARD
    assert await outcomes_pending(redis) == 0
    told = await audited(redis, "access_outcome_delivered")
    assert told[0].rid == request.rid
    assert told[0].details == {"decision": "approved", "stranger_told": 1, "cards": 2}


async def test_the_stranger_is_told_in_the_language_of_their_request_the_admins_in_russian(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    request = await make_request(redis, language="en-GB")
    await access_notifier(start_service)
    for admin in (ADMIN, ENV_ADMIN):
        await wait_for_cards(fake_telegram, admin, 1)

    await decide(redis, request, "denied")

    await wait_for_edited_cards(fake_telegram, "❌ Отклонено: Ада, 14:10")
    await fake_telegram.wait_for(lambda: fake_telegram.chat(STRANGER).texts, 20)
    assert fake_telegram.chat(STRANGER).texts == [for_language("en").access_denied_notice]


async def test_a_denial_tells_the_stranger_politely_once_and_edits_both_cards(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    request = await make_request(redis)
    process = await access_notifier(start_service)
    for admin in (ADMIN, ENV_ADMIN):
        await wait_for_cards(fake_telegram, admin, 1)

    await decide(redis, request, "denied", twice=True)

    edited = await wait_for_edited_cards(fake_telegram, "❌ Отклонено: Ада, 14:10")
    await wait_for_events(process, "access_outcome_delivered", 2)
    assert [card["text"] for card in edited] == [f"{CARD}\n\n❌ Отклонено: Ада, 14:10"] * 2
    assert fake_telegram.chat(STRANGER).texts == [REFUSED]
    assert fake_telegram.chat(STRANGER).keyboard is None


async def test_an_unanswered_request_expires_and_its_cards_say_so(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    request = await make_request(redis, created_ms=await redis_ms(redis))
    process = await access_notifier(start_service, ACCESS_REQUEST_TTL_S="3")
    for admin in (ADMIN, ENV_ADMIN):
        await wait_for_cards(fake_telegram, admin, 1)

    edited = await wait_for_edited_cards(fake_telegram, "⌛ Запрос истёк")

    await process.wait_for_event("access_outcome_delivered", timeout=20)
    assert all("reply_markup" not in card for card in edited)
    record = await stored(redis, request.rid)
    assert record["status"] == "expired"
    assert await redis.exists(by_user_key(STRANGER)) == 0
    assert await redis.zscore(OPEN, request.rid) is None
    assert fake_telegram.chat(STRANGER).texts == [LAPSED]
    (expiry,) = await audited(redis, "access_expired")
    assert (expiry.rid, expiry.telegram_id) == (request.rid, STRANGER)
    assert expiry.at_ms > 0


async def test_a_request_decided_before_its_cards_went_out_gets_none(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    request = await make_request(redis)
    await decide(redis, request, "denied")

    process = await access_notifier(start_service)

    await process.wait_for_event("access_outcome_delivered", timeout=20)
    await wait_until(lambda: _queue_empty(redis))
    assert fake_telegram.chat(STRANGER).texts == [REFUSED]
    assert cards(fake_telegram, ADMIN) == []
    assert cards(fake_telegram, ENV_ADMIN) == []


async def _queue_empty(redis: aioredis.Redis) -> bool:
    return int(await redis.zcard(QUEUE)) == 0


async def test_a_card_edit_that_failed_is_retried_without_telling_the_stranger_again(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    request = await make_request(redis)
    process = await access_notifier(start_service)
    for admin in (ADMIN, ENV_ADMIN):
        await wait_for_cards(fake_telegram, admin, 1)
    # Every try of one handling (the sender's five) fails for the first admin's card.
    fake_telegram.fail_next("editMessageText", Failure.server_error(502), times=5, chat_id=ADMIN)

    await decide(redis, request, "approved")

    await wait_for_edited_cards(fake_telegram, "✅ Одобрено: Ада, 14:10")
    await process.wait_for_event("access_outcome_delivered", timeout=30)
    assert fake_telegram.failures_left == 0
    assert [e["error"] for e in events(process, "stream_entry_failed")] == ["NotDone"]
    assert fake_telegram.chat(STRANGER).texts == [GRANTED]
    assert set(await card_ids(redis, request.rid)) == {str(ADMIN), str(ENV_ADMIN)}


async def test_a_malformed_outcome_is_dead_lettered_and_the_next_one_is_told(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    request = await make_request(redis)
    await redis.xadd(OUTCOMES, {"data": b'{"rid": 1}'})
    await decide(redis, request, "denied")

    await access_notifier(start_service)

    await fake_telegram.wait_for_messages(STRANGER, 1, timeout=20)
    assert fake_telegram.chat(STRANGER).texts == [REFUSED]
    await wait_until(lambda: _dead_letters(redis))


async def _dead_letters(redis: aioredis.Redis) -> bool:
    return int(await redis.xlen(f"{OUTCOMES}:dead")) == 1


async def test_a_card_that_went_out_after_the_decision_is_edited_too(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    # The second admin's card is still on its way when the first admin decides.
    fake_telegram.fail_next("sendMessage", Failure.slow(3), chat_id=ENV_ADMIN)
    request = await make_request(redis)
    process = await access_notifier(start_service)
    await wait_for_cards(fake_telegram, ADMIN, 1)

    await decide(redis, request, "denied")

    await process.wait_for_event("access_outcome_delivered", timeout=20)
    assert cards(fake_telegram, ENV_ADMIN) == []  # the outcome path could not see it
    edited = await wait_for_edited_cards(fake_telegram, "❌ Отклонено: Ада, 14:10")
    assert all("reply_markup" not in card for card in edited)
    assert fake_telegram.chat(STRANGER).texts == [REFUSED]
