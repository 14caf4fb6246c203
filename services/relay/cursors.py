"""Moving a partition's read positions forward, fenced by its lease, with dead-lettering.

Both of the relay's read positions live in Redis and only move forward:
``bot:fwd:{p}`` (a string: the last incoming entry forwarded) and
``bot:cursor:{p}`` (a hash: user -> the last output entry handled). Moving
one, and writing an entry that cannot be handled to ``<stream>:dead`` (with
the error and the original fields), is one script: both or neither, and only
while this relay holds the partition. A reply cursor's move also clears the
user's "typing…" record (``bot:typing:{p}``): the reply came.
"""

from __future__ import annotations

import enum
from typing import Final

import redis.asyncio as aioredis

from services.relay import keyspace
from shared import keys
from shared.connections import text
from shared.schemas import encode_entry
from shared.scripts import register
from shared.streams import DeadLetter, Fields

DEAD_LETTER_MAXLEN: Final = 10_000
_UNUSED: Final = "bot:unused"
"""A script declares its keys up front; this one stands for a key the call does not use."""


class Advanced(enum.Enum):
    MOVED = 1
    STALE = 2
    """The position was already at or past this entry (handled before, by us or another)."""
    LOST = 0
    """This relay no longer holds the partition: nothing was written."""


def dead_letter(
    stream: str,
    entry_id: str,
    fields: Fields,
    *,
    consumer: str,
    reason: str,
    error: str,
    deliveries: int = 1,
) -> DeadLetter:
    """The dead-letter record, in the shape ``shared.streams`` uses for every stream."""
    return DeadLetter(
        stream=stream,
        entry_id=entry_id,
        group="",
        consumer=consumer,
        reason=reason,
        error=error,
        deliveries=deliveries,
        fields={
            name.decode(errors="backslashreplace"): value.decode(errors="backslashreplace")
            for name, value in fields.items()
        },
    )


class Cursors:
    """The advance script for one relay identity."""

    def __init__(self, redis: aioredis.Redis, identity: str) -> None:
        self._identity = identity
        self._script = register(redis, __file__, "advance.lua")

    async def forwarded(
        self, partition: int, entry_id: str, dead: DeadLetter | None = None
    ) -> Advanced:
        """Move ``bot:fwd:{p}`` to ``entry_id`` (an incoming entry not forwarded: dead)."""
        reply = await self._run(partition, keyspace.forwarded(partition), "", entry_id, dead)
        return Advanced(int(reply[0]))

    async def replied(
        self,
        partition: int,
        user_id: int,
        entry_id: str,
        dead: DeadLetter | None = None,
        *,
        final: str | None = None,
    ) -> Advanced:
        """Move the user's reply cursor to ``entry_id`` (handled, or dead-lettered).

        ``final``: see :meth:`answered`.
        """
        moved, _ = await self.answered(partition, user_id, entry_id, dead, final=final)
        return moved

    async def answered(
        self,
        partition: int,
        user_id: int,
        entry_id: str,
        dead: DeadLetter | None = None,
        *,
        final: str | None = None,
    ) -> tuple[Advanced, int | None]:
        """:meth:`replied`, and the chat message the bot reacted to for the request it ends.

        ``final``: the entry was the final reply to that request ('' : to the
        oldest pending one, the PO named none), which stops being pending.
        """
        key = keyspace.reply_cursor(partition)
        answered = (
            (
                keys.pending(user_id),
                keys.cancelled(user_id),
                keyspace.cancelling(partition),
                keys.acks(user_id),
            )
            if final is not None
            else (_UNUSED, _UNUSED, _UNUSED, _UNUSED)
        )
        reply = await self._run(
            partition,
            key,
            str(user_id),
            entry_id,
            dead,
            typing=keyspace.typing(partition),
            answered=answered,
            final="" if final is None else f"={final}",
        )
        ack = text(reply[1])
        return Advanced(int(reply[0])), int(ack) if ack else None

    async def _run(
        self,
        partition: int,
        key: str,
        field: str,
        entry_id: str,
        dead: DeadLetter | None,
        *,
        typing: str = _UNUSED,
        answered: tuple[str, str, str, str] = (_UNUSED, _UNUSED, _UNUSED, _UNUSED),
        final: str = "",
    ) -> list[bytes]:
        dead_stream = _dead_stream(dead)
        data = encode_entry(dead)["data"] if dead is not None else b""
        reply: list[bytes] = await self._script(
            keys=[keyspace.lease(partition), key, dead_stream, typing, *answered],
            args=[self._identity, field, entry_id, data, DEAD_LETTER_MAXLEN, final],
        )
        return reply


def _dead_stream(dead: DeadLetter | None) -> str:
    return keys.dead_letter(dead.stream) if dead is not None else _UNUSED
