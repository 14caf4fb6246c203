"""``shared.ratelimit.FloodLimiter`` against a real Redis: grants, waits, windows, pauses.

Times come from Redis' clock, so expected delays are checked within a few
milliseconds of slack for the round trips between calls.
"""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
import redis.asyncio as aioredis

from shared.ratelimit import Done, FloodBudget, FloodLimiter, Record, Ticket
from shared.settings import BaseSettings, load

SLACK_S = 0.03


def limiter(redis: aioredis.Redis, **budget: float) -> FloodLimiter:
    return FloodLimiter(redis, FloodBudget(**budget))  # type: ignore[arg-type]


async def previewed(flood: FloodLimiter, chat_id: int) -> bool:
    """Whether a preview would go now (its request answered at once)."""
    ticket = await flood.try_acquire(chat_id)
    if ticket is None:
        return False
    await flood.release(ticket)
    return True


async def send(flood: FloodLimiter, chat_id: int) -> None:
    """One request to ``chat_id``, answered at once."""
    await flood.release(await flood.acquire(chat_id))


def since(started: float) -> float:
    return time.monotonic() - started


async def test_a_chat_gets_its_burst_then_one_message_per_interval(
    redis: aioredis.Redis,
) -> None:
    flood = limiter(redis, global_per_s=1000, chat_per_s=5.0, chat_burst=2)  # 200 ms apart
    started = time.monotonic()

    sent = []
    for _ in range(3):
        await send(flood, 7)
        sent.append(since(started))

    assert sent[1] < SLACK_S
    # Two sends at ~t0 use the burst; the third may go one interval after the first.
    assert 0.2 - SLACK_S < sent[2] < 0.2 + 0.1


async def test_global_slots_are_spaced_by_the_global_interval_across_chats(
    redis: aioredis.Redis,
) -> None:
    flood = limiter(redis, global_per_s=20, safety=1.0)
    started = time.monotonic()

    sent = []
    for chat in range(1, 6):
        await send(flood, chat)
        sent.append(since(started))

    assert sent[0] < SLACK_S
    for before, after in itertools.pairwise(sent):
        # Each slot is one interval (50 ms) after the one before.
        assert 0.05 - SLACK_S < after - before < 0.05 + SLACK_S


async def test_the_safety_margin_slows_the_global_rate_below_the_configured_one(
    redis: aioredis.Redis,
) -> None:
    flood = limiter(redis, global_per_s=10, safety=0.5)
    started = time.monotonic()

    await send(flood, 1)
    await send(flood, 2)

    assert 0.2 - SLACK_S < since(started) < 0.2 + 0.1


async def test_a_chat_held_back_by_its_own_limit_takes_no_global_slot(
    redis: aioredis.Redis,
) -> None:
    # Global slots 100 ms apart; chat 1 may send every 500 ms.
    flood = limiter(redis, global_per_s=10, safety=1.0, chat_per_s=2.0, chat_burst=1)
    started = time.monotonic()
    await send(flood, 1)

    held = asyncio.create_task(send(flood, 1))
    done, _ = await asyncio.wait([held], timeout=0.05)
    assert not done, "chat 1 waits for its own limit"
    await send(flood, 2)

    assert since(started) < 0.1 + SLACK_S  # the very next slot, not one after chat 1's wait
    await held
    assert since(started) > 0.5 - SLACK_S


async def test_a_group_gets_at_most_its_limit_per_window(redis: aioredis.Redis) -> None:
    flood = limiter(
        redis, global_per_s=1000, chat_per_s=1000, group_limit=3, group_window_s=0.3, safety=1.0
    )
    started = time.monotonic()
    for _ in range(3):
        await send(flood, -100)

    fourth = asyncio.create_task(send(flood, -100))
    await send(flood, 100)

    assert since(started) < 0.1  # the window is the group's alone
    assert not fourth.done()
    assert await redis.zcard(flood.group_key(-100)) == 3
    await fourth
    assert 0.3 - SLACK_S < since(started) < 0.3 + 0.1


async def test_a_group_window_is_stretched_by_the_safety_margin(redis: aioredis.Redis) -> None:
    flood = limiter(
        redis, global_per_s=1000, chat_per_s=1000, group_limit=1, group_window_s=0.4, safety=0.8
    )
    started = time.monotonic()

    await send(flood, -5)
    await send(flood, -5)

    assert 0.5 - SLACK_S < since(started) < 0.5 + 0.1


async def test_a_429_pauses_the_chat_for_retry_after_and_no_other_chat(
    redis: aioredis.Redis,
) -> None:
    flood = limiter(redis, global_per_s=1000)

    pause = await flood.report_retry_after(3, 0.5)
    started = time.monotonic()

    assert pause.scope == "chat"
    assert 450 < await redis.pttl(flood.chat_pause_key(3)) <= 500
    assert 0.5 - SLACK_S < await flood.pause_left(3) <= 0.5
    assert await flood.pause_left(4) == 0
    other = time.monotonic()
    await send(flood, 4)
    assert since(other) < SLACK_S
    await send(flood, 3)
    assert 0.5 - SLACK_S < since(started) < 0.5 + 0.1


async def test_a_429_with_retry_after_0_is_taken_and_sends_go_on(
    redis: aioredis.Redis,
) -> None:
    flood = limiter(redis, global_per_s=1000, global_pause_chats=2)

    # Two chats: the second 429 pauses every chat, for 0 s as well.
    scopes = [(await flood.report_retry_after(chat, 0)).scope for chat in (3, 4)]
    started = time.monotonic()
    await send(flood, 3)
    await send(flood, 5)

    assert scopes == ["chat", "global"]
    assert since(started) < 0.5


async def test_a_shorter_retry_after_never_shortens_a_pause(redis: aioredis.Redis) -> None:
    flood = limiter(redis, global_per_s=1000, global_pause_chats=10)

    await flood.report_retry_after(3, 30)
    await flood.report_retry_after(3, 1)

    assert await flood.pause_left(3) > 29


async def test_429s_in_two_chats_within_the_window_pause_every_chat(
    redis: aioredis.Redis,
) -> None:
    flood = limiter(redis, global_per_s=1000, global_pause_chats=2, global_pause_window_s=2.0)

    first = await flood.report_retry_after(1, 0.2)
    second = await flood.report_retry_after(2, 0.5)
    started = time.monotonic()

    assert (first.scope, second.scope) == ("chat", "global")
    assert 0.5 - SLACK_S < await flood.pause_left(99) <= 0.5
    # The global pause holds every chat until its end.
    await send(flood, 99)
    assert 0.5 - SLACK_S < since(started) < 0.5 + 0.1


async def test_429s_in_one_chat_only_never_pause_every_chat(redis: aioredis.Redis) -> None:
    flood = limiter(redis, global_per_s=1000, global_pause_chats=2)

    scopes = [(await flood.report_retry_after(1, 1)).scope for _ in range(3)]

    assert scopes == ["chat", "chat", "chat"]
    assert await flood.pause_left(2) == 0


async def test_acquire_waits_out_a_pause_reported_while_its_slot_was_coming(
    redis: aioredis.Redis,
) -> None:
    flood = limiter(redis, global_per_s=4, safety=1.0)
    await send(flood, 1)  # the next slot is 250 ms away
    await flood.report_retry_after(2, 1)

    started = time.monotonic()
    await flood.acquire(2)

    assert time.monotonic() - started >= 1.0 - SLACK_S


async def test_the_gate_counts_requests_by_their_answers_so_jitter_cannot_overfill_a_window(
    redis: aioredis.Redis,
) -> None:
    flood = limiter(redis, global_per_s=25, global_window_s=0.2, safety=1.0)  # 5 per 200 ms
    tickets = [await flood.acquire(chat) for chat in range(1, 6)]  # still unanswered

    sixth = asyncio.create_task(flood.acquire(6))
    done, _ = await asyncio.wait([sixth], timeout=0.5)  # well past its 200 ms slot
    assert not done, "five requests in flight fill a window of five"
    await flood.release(tickets[0])
    released = time.monotonic()
    await sixth

    # Telegram may have counted the first request as late as its answer.
    assert time.monotonic() - released >= 0.2 - SLACK_S


async def test_a_chat_has_one_request_in_flight_at_a_time(redis: aioredis.Redis) -> None:
    flood = limiter(redis, global_per_s=1000, chat_per_s=1000, chat_burst=5)
    first = await flood.acquire(1)

    second = asyncio.create_task(flood.acquire(1))
    other_chat = await flood.acquire(2)
    done, _ = await asyncio.wait([second], timeout=0.2)
    assert not done, "the chat's first request has no answer yet"
    await flood.release(first)
    await second

    await flood.release(other_chat)


async def test_a_group_window_counts_its_requests_by_their_answer_times(
    redis: aioredis.Redis,
) -> None:
    flood = limiter(redis, global_per_s=1000, chat_per_s=1000, group_limit=1, group_window_s=0.3)
    first = await flood.acquire(-7)
    await asyncio.sleep(0.2)  # the request takes 200 ms to answer
    await flood.release(first)
    answered = time.monotonic()

    await flood.acquire(-7)

    # The pace alone would allow it 0.3 s after the first slot; Telegram may
    # have counted the first request as late as its answer.
    assert time.monotonic() - answered >= 0.3 - SLACK_S


async def test_a_request_whose_process_died_counts_for_in_flight_s_only(
    redis: aioredis.Redis,
) -> None:
    flood = limiter(redis, global_per_s=5, global_window_s=0.2, in_flight_s=0.3, safety=1.0)
    await flood.acquire(1)  # never released: its process was killed

    started = time.monotonic()
    await flood.acquire(2)

    elapsed = time.monotonic() - started
    assert 0.5 - SLACK_S <= elapsed < 1.0


async def test_acquire_unless_takes_nothing_when_the_field_is_set(redis: aioredis.Redis) -> None:
    flood = limiter(redis, global_per_s=1000, chat_per_s=1.0, chat_burst=1)
    await redis.hset("test:sent:a", "0", "41")

    assert await flood.acquire_unless(8, "test:sent:a", "0") == Done("41")
    started = time.monotonic()
    ticket = await flood.acquire_unless(8, "test:sent:a", "1")  # another field of that hash

    assert isinstance(ticket, Ticket)
    # Nothing was taken: the chat's one token was still there (else a wait of 1 s).
    assert since(started) < 0.5
    await flood.release(ticket)


async def test_a_field_set_while_the_slot_was_coming_stops_the_request_at_the_gate(
    redis: aioredis.Redis,
) -> None:
    flood = limiter(redis, global_per_s=4, safety=1.0)
    await send(flood, 1)  # the next global slot is 250 ms away: reserved, then waited for
    waiting = asyncio.create_task(flood.acquire_unless(8, "test:sent:d", "0"))
    done, _ = await asyncio.wait([waiting], timeout=0.1)
    assert not done, "its slot is 250 ms away"

    await redis.hset("test:sent:d", "0", "42")  # another process did the request meanwhile

    assert await waiting == Done("42")
    assert await redis.get(flood.flight_key(8)) is None  # no request in flight
    assert await redis.zcard(flood.sent_key()) == 1  # the first send only


async def test_a_field_set_while_the_gate_waits_for_a_request_in_flight_stops_the_request(
    redis: aioredis.Redis,
) -> None:
    flood = limiter(redis, global_per_s=1000, chat_per_s=1000, chat_burst=5)
    other = await flood.acquire(8)  # another process's request for the same part

    waiting = asyncio.create_task(flood.acquire_unless(8, "test:sent:e", "0"))
    done, _ = await asyncio.wait([waiting], timeout=0.1)
    assert not done, "the chat's request in flight has no answer yet"
    await flood.release(other, record=Record("test:sent:e", "0", "43", 60_000))

    assert await waiting == Done("43")
    assert await redis.get(flood.flight_key(8)) is None


async def test_a_release_writes_its_record_in_the_same_step(redis: aioredis.Redis) -> None:
    flood = limiter(redis, global_per_s=1000, chat_per_s=1000)
    ticket = await flood.acquire(9)
    assert await redis.get(flood.flight_key(9)) is not None

    await flood.release(ticket, record=Record("test:sent:c", "0", "42", 60_000))

    assert await redis.get(flood.flight_key(9)) is None
    assert await redis.hgetall("test:sent:c") == {b"0": b"42"}
    assert 0 < await redis.pttl("test:sent:c") <= 60_000


async def test_a_preview_goes_only_when_the_budget_is_idle_now(redis: aioredis.Redis) -> None:
    flood = limiter(redis, global_per_s=10, chat_per_s=1.0, chat_burst=2)
    started = time.monotonic()

    assert await previewed(flood, 1)
    # The global queue now has a slot 100 ms away: a final message waits, a preview skips.
    assert not await previewed(flood, 2)
    await send(flood, 2)
    assert since(started) > 0.1 - SLACK_S


async def test_a_preview_never_takes_a_chats_last_token(redis: aioredis.Redis) -> None:
    flood = limiter(redis, global_per_s=1000, chat_per_s=1.0, chat_burst=2)
    await send(flood, 1)  # one token of two used by a final message

    assert not await previewed(flood, 1)
    started = time.monotonic()
    await send(flood, 1)
    assert since(started) < 0.5  # the final message still goes now, not a second later


async def test_a_preview_leaves_a_group_room_for_final_messages(redis: aioredis.Redis) -> None:
    flood = limiter(
        redis,
        global_per_s=100_000,  # global slots free at every call
        chat_per_s=1,
        chat_burst=10,
        group_limit=4,
        preview_group_reserve=2,
    )

    previews = [await previewed(flood, -9) for _ in range(4)]

    assert previews == [True, True, False, False]
    started = time.monotonic()
    await send(flood, -9)
    assert since(started) < 0.5  # a final message still goes now


async def test_a_paused_chat_gets_no_preview(redis: aioredis.Redis) -> None:
    flood = limiter(redis, global_per_s=1000)
    await flood.report_retry_after(1, 5)

    assert not await previewed(flood, 1)


async def test_every_key_expires_so_an_idle_bot_leaves_nothing_behind(
    redis: aioredis.Redis,
) -> None:
    flood = limiter(redis, global_per_s=1000)
    await send(flood, -1)
    await flood.report_retry_after(5, 1)

    keys = await redis.keys("bot:flood:*")

    assert keys
    ttls = [await redis.pttl(key) for key in keys]
    assert all(ttl > 0 for ttl in ttls), dict(zip(keys, ttls, strict=True))


def test_the_budget_reads_its_rates_from_the_environment() -> None:
    env = {
        "TELEGRAM_BOT_TOKEN": "1:x",
        "TELEGRAM_RATE_GLOBAL_PER_S": "120",
        "TELEGRAM_RATE_CHAT_PER_S": "5.5",
    }
    budget = FloodBudget.from_settings(load(BaseSettings, env))

    assert (budget.global_per_s, budget.chat_per_s) == (120.0, 5.5)
    assert FloodBudget.from_settings(load(BaseSettings, {"TELEGRAM_BOT_TOKEN": "1:x"})) == (
        FloodBudget()
    )


@pytest.mark.parametrize(
    "bad",
    [{"global_per_s": 0}, {"chat_per_s": -1}, {"chat_burst": 0}, {"safety": 1.5}],
)
def test_a_budget_that_cannot_work_is_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        FloodBudget(**bad)  # type: ignore[arg-type]
