"""Albums: the parts of one ``media_group_id`` gathered into ONE PO message.

Telegram sends each part of an album as its own update, and the ingress
stores each as its own ``bot:incoming:{p}`` entry, in the user's order but
maybe with other users' entries between them. The partition's in-order
worker (:mod:`services.relay.incoming`), on reaching a part at the head:

1. asks :meth:`Albums.taken` (``album_part.lua``, fenced) whether an album
   forwarded before took it (``bot:albums:{user}``); if so ``bot:fwd:{p}``
   moves past it and nothing else happens;
2. else :meth:`Albums.gather` collects the user's later queued entries of
   the same album, in order, stopping at the user's first entry that is not
   one (then the album is closed at once) or at ten parts; while neither
   happened it waits until ``ALBUM_WINDOW_MS`` passed since the newest
   part (the entry ids' time against Redis' clock), woken early by new
   entries;
3. the worker forwards the combined message under the FIRST part's entry
   id, and the forwarding script records which parts it took in the same
   step (:class:`~services.relay.sessions.AlbumTaken`).

A crash before step 3 leaves nothing: the next owner gathers again (the
window is over by then, so at once). A crash after it leaves the record:
the later parts are skipped. See ``docs/ARCHITECTURE.md``, "Albums".
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from dataclasses import dataclass
from typing import Final

import msgspec
import redis.asyncio as aioredis

from services.relay import keyspace
from services.relay.sessions import AlbumTaken
from shared import keys
from shared.attachments import MEDIA_GROUP_MAX
from shared.connections import text
from shared.log import get_logger
from shared.schemas import DATA_FIELD, IncomingMessage, MalformedEntry, decode_entry
from shared.scripts import register
from shared.streams import Fields

log = get_logger(__name__)

CAPTION_JOINER: Final = "\n\n"
"""Between the captions of an album's parts (normally only the first has one)."""


class Taken(enum.Enum):
    NEW = "new"
    """Not part of an album forwarded before: it starts a message."""
    SKIPPED = "skipped"
    """Part of an album forwarded before: ``bot:fwd:{p}`` moved past it."""
    STALE = "stale"
    """Part of an album forwarded before, and ``bot:fwd:{p}`` already past it."""
    LOST = "lost"
    """This relay no longer holds the partition: nothing was written."""


@dataclass(frozen=True)
class Album:
    message: IncomingMessage
    """The message the PO gets: the first part's, with every part's files and caption."""
    parts: int
    taken: AlbumTaken | None
    """The later parts it took (None: the first part alone)."""


class _Peek(msgspec.Struct):
    """The fields that say whose entry it is and whether it is an album's part."""

    user_id: int
    kind: str = "message"
    media_group_id: str = ""


_peek: Final = msgspec.json.Decoder(_Peek)


class Albums:
    """The gathering for one relay identity; see the module docstring."""

    def __init__(self, redis: aioredis.Redis, identity: str, *, window_ms: int) -> None:
        self._redis = redis
        self._identity = identity
        self._window_ms = window_ms
        self._script = register(redis, __file__, "album_part.lua")

    async def taken(self, partition: int, entry_id: str, message: IncomingMessage) -> Taken:
        """Skip the part if an album forwarded before took it (fenced, one step)."""
        reply = await self._script(
            keys=[
                keyspace.lease(partition),
                keyspace.forwarded(partition),
                keyspace.albums(message.user_id),
                keys.incoming(partition),
            ],
            args=[self._identity, entry_id, message.media_group_id],
        )
        return Taken(text(reply))

    async def gather(
        self,
        entry_id: str,
        message: IncomingMessage,
        queue: deque[tuple[str, Fields]],
        arrived: asyncio.Event,
        stopped: asyncio.Event,
    ) -> Album | None:
        """The album that starts with the head ``entry_id`` of ``queue``; None: ``stopped``.

        ``arrived`` is set whenever entries join ``queue``.
        """
        waited = False
        while True:
            arrived.clear()
            parts, closed = _scan(entry_id, message, queue)
            if closed or len(parts) >= MEDIA_GROUP_MAX:
                break
            left_ms = _ms_of(parts[-1][0]) + self._window_ms - await self._now_ms()
            if left_ms <= 0:
                break
            if not waited:
                waited = True
                log.info(
                    "album_waiting",
                    user_id=message.user_id,
                    entry_id=entry_id,
                    parts=len(parts),
                    wait_ms=left_ms,
                )
            if await _either(arrived, stopped, left_ms / 1000):
                return None
        album = _combine(parts)
        log.info(
            "album_gathered",
            user_id=message.user_id,
            entry_id=entry_id,
            parts=album.parts,
            closed_early=closed,
        )
        return album

    async def _now_ms(self) -> int:
        seconds, micros = await self._redis.time()
        return int(seconds) * 1000 + int(micros) // 1000


def _scan(
    entry_id: str, head: IncomingMessage, queue: deque[tuple[str, Fields]]
) -> tuple[list[tuple[str, IncomingMessage]], bool]:
    """The album's parts queued from its head on, and whether it is closed.

    Closed: the user's first entry after the head that is not one of its
    parts (another message, a command, a part of another album, an entry
    that does not decode) ends it; other users' entries are passed over.
    """
    parts = [(entry_id, head)]
    for later_id, fields in list(queue)[1:]:
        peek = _peek_of(fields)
        if peek is None or peek.user_id != head.user_id:
            continue  # another user's (or undecodable: its own head step dead-letters it)
        if peek.kind != "message" or peek.media_group_id != head.media_group_id:
            return parts, True
        try:
            part = decode_entry(fields, IncomingMessage)
        except MalformedEntry:
            return parts, True  # dead-lettered when it reaches the head
        parts.append((later_id, part))
        if len(parts) >= MEDIA_GROUP_MAX:
            break
    return parts, False


def _peek_of(fields: Fields) -> _Peek | None:
    data = fields.get(DATA_FIELD.encode())
    if data is None:
        return None
    try:
        return _peek.decode(data)
    except msgspec.DecodeError:
        return None


def _combine(parts: list[tuple[str, IncomingMessage]]) -> Album:
    first_id, first = parts[0]
    if len(parts) == 1:
        return Album(first, 1, None)
    captions = [part.text for _, part in parts if part.text]
    message = msgspec.structs.replace(
        first,
        text=CAPTION_JOINER.join(captions),
        attachments=[a for _, part in parts for a in part.attachments],
    )
    taken = AlbumTaken(group=first.media_group_id, first=first_id, last=parts[-1][0])
    return Album(message, len(parts), taken)


def _ms_of(entry_id: str) -> int:
    """A stream entry id's time: Redis' clock when it was added, in ms."""
    return int(entry_id.partition("-")[0])


async def _either(arrived: asyncio.Event, stopped: asyncio.Event, timeout_s: float) -> bool:
    """Wait for new entries, the partition's stop, or the timeout; True: stopped."""
    waiters = {asyncio.ensure_future(arrived.wait()), asyncio.ensure_future(stopped.wait())}
    try:
        await asyncio.wait(waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    return stopped.is_set()
