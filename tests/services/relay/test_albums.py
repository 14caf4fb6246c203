"""Albums (issue 16): the parts of one ``media_group_id`` reach the PO as ONE message.

Each part is its own ``bot:incoming:{p}`` entry, written here as the ingress
writes it; other users of the partition may write between the parts. The
PO input is read straight from its stream (``seed``). Crashes (``kill -9``)
of relay processes: ``test_albums_crash.py``.
"""

from __future__ import annotations

from typing import Any

import msgspec
import redis.asyncio as aioredis

from services.relay import keyspace
from shared import keys
from shared.attachments import Attachment
from shared.schemas import IncomingMessage, POWorkerInput, decode_entry, encode_entry
from tests.services.relay.conftest import (
    StartRelay,
    entries,
    incoming_message,
    wait_for_value,
    wait_until,
    write_message,
)

USER = 29
OTHER = USER + keys.PARTITIONS
"""Another user of the same partition."""
PARTITION = keys.partition_of(USER)
GROUP = "13579"


def photo(n: int) -> Attachment:
    return Attachment(kind="photo", url=f"https://files.test/f/{n}?sig=x", width=n, height=n)


def album_part(user_id: int, n: int, caption: str = "", group: str = GROUP) -> IncomingMessage:
    """What the ingress stores for part ``n`` of an album (its own update, its own message)."""
    message = incoming_message(user_id, caption)
    return msgspec.structs.replace(
        message, message_id=100 + n, update_id=100 + n, attachments=[photo(n)], media_group_id=group
    )


async def write_part(redis: aioredis.Redis, message: IncomingMessage) -> str:
    stream = keys.incoming(keys.partition_of(message.user_id))
    raw: Any = await redis.xadd(stream, encode_entry(message))  # type: ignore[arg-type]
    return str(raw.decode())


async def write_together(redis: aioredis.Redis, messages: list[IncomingMessage]) -> list[str]:
    """Entries written back to back (one round trip): well inside any window, however busy
    the machine running the test is."""
    async with redis.pipeline(transaction=False) as pipe:
        for message in messages:
            stream = keys.incoming(keys.partition_of(message.user_id))
            pipe.xadd(stream, encode_entry(message))  # type: ignore[arg-type]
        ids: Any = await pipe.execute()
    return [raw.decode() for raw in ids]


async def po_inputs(redis: aioredis.Redis, user_id: int) -> list[POWorkerInput]:
    found = await entries(redis, keys.po_input(user_id))
    return [decode_entry(fields, POWorkerInput) for _, fields in found]


async def forwarded(redis: aioredis.Redis) -> str:
    value: Any = await redis.get(keyspace.forwarded(PARTITION))
    return value.decode() if value else ""


def urls(entry: POWorkerInput) -> list[str]:
    return [a.url for a in entry.attachments or []]


async def test_a_three_part_album_with_another_users_message_between_is_one_po_message(
    redis: aioredis.Redis, start_relay: StartRelay
) -> None:
    await start_relay(ALBUM_WINDOW_MS="300")

    *_, last = await write_together(
        redis,
        [
            album_part(USER, 1, "look at these"),
            incoming_message(OTHER, "unrelated"),
            album_part(USER, 2),
            album_part(USER, 3),
        ],
    )
    await wait_for_value(lambda: forwarded(redis), last)

    [album] = await po_inputs(redis, USER)
    assert urls(album) == [photo(n).url for n in (1, 2, 3)]
    assert album.text == "look at these"
    assert [m.text for m in await po_inputs(redis, OTHER)] == ["unrelated"]


async def test_the_album_gets_the_first_parts_reaction(
    redis: aioredis.Redis, start_relay: StartRelay
) -> None:
    await start_relay(ALBUM_WINDOW_MS="300")

    _, last = await write_together(redis, [album_part(USER, 1), album_part(USER, 2)])
    await wait_for_value(lambda: forwarded(redis), last)

    [album] = await po_inputs(redis, USER)
    acks: Any = await redis.hgetall(keys.acks(USER))
    assert acks == {album.request_id.encode(): b"101"}


async def test_a_text_sent_after_an_album_reaches_the_po_after_it_and_closes_it_at_once(
    redis: aioredis.Redis, start_relay: StartRelay
) -> None:
    # A window far longer than the test may wait: only the text can close the album.
    await start_relay(ALBUM_WINDOW_MS="60000")

    await write_part(redis, album_part(USER, 1, "two photos"))
    await write_part(redis, album_part(USER, 2))
    after = await write_message(redis, USER, "and this text")
    await wait_for_value(lambda: forwarded(redis), after)

    album, text = await po_inputs(redis, USER)
    assert (album.text, urls(album)) == ("two photos", [photo(1).url, photo(2).url])
    assert (text.text, text.attachments) == ("and this text", None)


async def test_an_album_is_held_while_its_window_is_open_and_takes_a_part_that_comes_in_it(
    redis: aioredis.Redis, start_relay: StartRelay
) -> None:
    window_ms = 3000
    running = await start_relay(ALBUM_WINDOW_MS=str(window_ms))
    await wait_until(lambda: running.relay.owns(PARTITION))

    await write_part(redis, album_part(USER, 1))
    await wait_until(lambda: running.relay.incoming.backlog == 1)  # read, and held
    assert await po_inputs(redis, USER) == []
    second = await write_part(redis, album_part(USER, 2))
    await wait_for_value(lambda: forwarded(redis), second)

    [(input_id, fields)] = await entries(redis, keys.po_input(USER))
    assert urls(decode_entry(fields, POWorkerInput)) == [photo(1).url, photo(2).url]
    # Sent once the window had passed since the newest part (both on Redis' clock).
    assert _ms(input_id) - _ms(second) >= window_ms


async def test_a_part_that_comes_after_the_window_closed_is_a_message_of_its_own(
    redis: aioredis.Redis, start_relay: StartRelay
) -> None:
    await start_relay(ALBUM_WINDOW_MS="100")
    first = await write_part(redis, album_part(USER, 1))
    await wait_for_value(lambda: forwarded(redis), first)

    straggler = await write_part(redis, album_part(USER, 2))
    await wait_for_value(lambda: forwarded(redis), straggler)

    assert [urls(m) for m in await po_inputs(redis, USER)] == [[photo(1).url], [photo(2).url]]


async def test_parts_of_two_albums_in_a_row_are_two_po_messages(
    redis: aioredis.Redis, start_relay: StartRelay
) -> None:
    await start_relay(ALBUM_WINDOW_MS="300")

    *_, last = await write_together(
        redis,
        [
            album_part(USER, 1, "first"),
            album_part(USER, 2),
            album_part(USER, 3, "second", group="24680"),
            album_part(USER, 4, group="24680"),
        ],
    )
    await wait_for_value(lambda: forwarded(redis), last)

    found = [(m.text, urls(m)) for m in await po_inputs(redis, USER)]
    assert found == [
        ("first", [photo(1).url, photo(2).url]),
        ("second", [photo(3).url, photo(4).url]),
    ]


def _ms(entry_id: str) -> int:
    return int(entry_id.partition("-")[0])
