"""Webhook ordering: a user's later update waits for their earlier ones, and only for those."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis

from services.ingress.ordering import MAX_BLOCK_S, Turn, UserOrder, inflight_key, sender_of


def update(telegram_id: int, update_id: int) -> dict[str, Any]:
    sender = {"id": telegram_id, "is_bot": False, "first_name": "A"}
    return {"update_id": update_id, "message": {"message_id": 1, "from": sender, "text": "x"}}


async def blocked(redis: aioredis.Redis, waiters: int) -> None:
    """Return once ``waiters`` clients of this test's database block, waiting their turn."""
    db = str(redis.connection_pool.connection_kwargs.get("db", 0))
    async with asyncio.timeout(5):
        while True:
            clients = await redis.client_list()
            if sum(c["cmd"] == "blmove" and c["db"] == db for c in clients) >= waiters:
                return
            await asyncio.sleep(0.01)  # a condition polled, not a pause: the server says


async def store_in_turn(turn: Turn, stored: list[int], update_id: int) -> None:
    await turn.wait()
    stored.append(update_id)
    await turn.leave()


async def test_updates_that_reach_their_store_out_of_order_are_stored_in_order(
    redis: aioredis.Redis,
) -> None:
    order = UserOrder(redis, wait_s=30)
    turns = [await order.arrive(update(1001, update_id)) for update_id in (1, 2, 3)]
    stored: list[int] = []

    # The latest ones are ready first (their auth was quicker).
    waiting = [asyncio.create_task(store_in_turn(turns[i], stored, i + 1)) for i in (2, 1)]
    await blocked(redis, 2)
    await store_in_turn(turns[0], stored, 1)
    async with asyncio.timeout(5):
        await asyncio.gather(*waiting)

    assert stored == [1, 2, 3]
    assert not await redis.exists(inflight_key(1001))


async def test_every_update_waiting_for_the_same_earlier_one_is_woken_when_it_leaves(
    redis: aioredis.Redis,
) -> None:
    order = UserOrder(redis, wait_s=30)
    earlier = await order.arrive(update(1001, 1))
    # One update delivered twice, to two replicas: both wait for update 1.
    copies = [await order.arrive(update(1001, 2)) for _ in range(2)]
    waiting = [asyncio.create_task(copy.wait()) for copy in copies]
    await blocked(redis, 2)

    await earlier.leave()

    # At once: neither the 30 s of the bound nor a blocking wait's own end (MAX_BLOCK_S).
    async with asyncio.timeout(MAX_BLOCK_S / 2):
        await asyncio.gather(*waiting)


async def test_another_users_update_in_flight_holds_nobody_up(redis: aioredis.Redis) -> None:
    order = UserOrder(redis, wait_s=30)
    await order.arrive(update(1001, 1))  # never leaves

    someone_else = await order.arrive(update(2002, 2))
    async with asyncio.timeout(5):
        await someone_else.wait()


async def test_an_earlier_update_that_never_leaves_is_waited_for_only_a_while(
    redis: aioredis.Redis,
) -> None:
    order = UserOrder(redis, wait_s=0.2)
    await order.arrive(update(1001, 1))  # its replica died

    later = await order.arrive(update(1001, 2))
    async with asyncio.timeout(5):
        await later.wait()


@pytest.mark.parametrize(
    ("raw", "sender"),
    [
        (update(1001, 1), 1001),
        ({"update_id": 2, "callback_query": {"id": "q", "from": {"id": 7}}}, 7),
        ({"update_id": 3, "channel_post": {"message_id": 1, "chat": {"id": -5}}}, None),
        ({"update_id": 4, "message": {"from": {"id": True}}}, None),
        ({"update_id": 5}, None),
        ([1, 2], None),
    ],
    ids=["message", "callback", "no-sender", "bool-id", "no-payload", "not-a-dict"],
)
def test_the_sender_of_a_raw_update_is_its_payloads_from(raw: Any, sender: int | None) -> None:
    assert sender_of(raw) == sender
