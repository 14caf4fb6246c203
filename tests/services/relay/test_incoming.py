"""The partitions' incoming streams: the relay trims what it forwarded, and nothing else.

The ingress does not trim ``bot:incoming:{p}``: the relay drops the entries
it has forwarded, so the streams stay small while relays run, and keeps
every entry not yet forwarded for whichever relay comes next.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from services.fakes.telegram import FakeTelegram
from shared import keys
from shared.schemas import IncomingMessage, POWorkerInput, decode_entry, encode_entry
from tests.services.relay.conftest import (
    StartRelay,
    entries,
    incoming_message,
    wait_for_value,
)

USER = 9
PARTITION = keys.partition_of(USER)
STREAM_NODE_MAX_ENTRIES = 100
"""Redis' default ``stream-node-max-entries``: the relay's approximate trim keeps at most
one node of entries already forwarded."""


async def write_messages(redis: aioredis.Redis, texts: list[str]) -> list[str]:
    """What the ingress does for many messages of ``USER``: their entry ids."""
    async with redis.pipeline(transaction=False) as pipe:
        for text in texts:
            message = encode_entry(incoming_message(USER, text))
            pipe.xadd(keys.incoming(PARTITION), message)  # type: ignore[arg-type]
        ids: Any = await pipe.execute()
    return [raw.decode() for raw in ids]


async def forwarded(redis: aioredis.Redis) -> str:
    value: Any = await redis.get(f"bot:fwd:{PARTITION}")
    return value.decode() if value else ""


async def po_inputs(redis: aioredis.Redis) -> list[str]:
    """The texts in the user's PO input stream, in order."""
    found = await entries(redis, keys.po_input(USER))
    return [decode_entry(fields, POWorkerInput).text for _, fields in found]


async def test_the_incoming_stream_stays_small_while_a_relay_forwards(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_relay: StartRelay
) -> None:
    texts = [f"message {n}" for n in range(600)]
    ids = await write_messages(redis, texts)
    await start_relay()

    await wait_for_value(lambda: forwarded(redis), ids[-1], timeout=30)

    assert await redis.xlen(keys.incoming(PARTITION)) <= STREAM_NODE_MAX_ENTRIES
    assert await po_inputs(redis) == texts


async def test_messages_written_while_no_relay_runs_are_kept_and_forwarded_once_later(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_relay: StartRelay
) -> None:
    first = await start_relay("relay-a")
    ids = await write_messages(redis, ["first"])
    await wait_for_value(lambda: forwarded(redis), ids[-1])
    before = ["first", *(f"before {n}" for n in range(300))]
    await write_messages(redis, before[1:])
    await first.stopped()  # maybe mid-way: the rest waits in the stream
    during = [f"during {n}" for n in range(300)]
    await write_messages(redis, during)

    # Every message not yet forwarded is still there, after the forwarded position.
    position = await forwarded(redis)
    after: Any = await redis.xrange(
        keys.incoming(PARTITION), min=f"({position}" if position else "-"
    )
    sent = len(await po_inputs(redis))
    assert [decode_entry(f, IncomingMessage).text for _, f in after] == (before + during)[sent:]

    await start_relay("relay-b")
    last: Any = await redis.xrevrange(keys.incoming(PARTITION), count=1)
    await wait_for_value(lambda: forwarded(redis), last[0][0].decode(), timeout=30)
    assert await po_inputs(redis) == before + during
