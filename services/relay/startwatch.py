"""Watching a PO come up: the user is told once when it fails or takes too long.

The forwarding script opens a watch (``bot:watch:{p}``) when it spawns, or
forwards to a worker not ``RUNNING``. The owner checks its watched users
every ``interval_s`` in one script (statuses and Redis' clock): ``RUNNING``
closes the watch; a failed start or the ``PO_START_TIMEOUT_S`` deadline
sends one keyed notice, then closes the watch and lifts the spawn guard.
The message itself stays in the PO's input stream. The rules (which
``FAILED`` counts): the relay's "Typing and PO start" section of
``docs/ARCHITECTURE.md``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Final, Literal

import msgspec
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from services.relay import keyspace
from services.relay.languages import ChatLanguages
from services.relay.outbound import Delivery, Outbound
from services.relay.partitions import Ownership
from services.relay.typing_indicator import TypingIndicator
from shared import keys
from shared.connections import text, texts
from shared.log import get_logger
from shared.schemas import MalformedEntry, WorkerResponse, decode_entry
from shared.scripts import register
from shared.stopping import pause

log = get_logger(__name__)

_STOPPED: Final = frozenset({"FAILED", "STOPPED"})
RESPONSES_SCAN: Final = 1000


class WatchRecord(msgspec.Struct, kw_only=True):
    """A watch as the forwarding script writes it (numbers as strings)."""

    worker_id: str
    chat_id: str
    deadline_ms: str
    request_id: str = ""
    """The create command's, when the watch comes from a spawn."""
    command_id: str = ""
    """Its entry id on ``worker:commands``: answers come after it."""
    baseline: str = ""
    """The status when the watch opened ('' when there was none)."""


@dataclass(eq=False)
class _Watched:
    partition: int
    user_id: int
    raw: str
    record: WatchRecord
    seen: str
    """The last status seen: a FAILED that follows another state is this start's."""


_decode_record = msgspec.json.Decoder(WatchRecord)


class StartWatch:
    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        identity: str,
        outbound: Outbound,
        ownership: Ownership,
        languages: ChatLanguages,
        typing: TypingIndicator,
        interval_s: float = 1.0,
    ) -> None:
        self._redis = redis
        self._identity = identity
        self._outbound = outbound
        self._ownership = ownership
        self._languages = languages
        self._typing = typing
        self._interval_s = interval_s
        self._watched: dict[int, _Watched] = {}
        self._statuses = register(redis, __file__, "watch_statuses.lua")
        self._conclude = register(redis, __file__, "watch_conclude.lua")

    # --- partitions and new watches -----------------------------------------------------------

    async def start_partition(self, partition: int) -> None:
        raw: Any = await self._redis.hgetall(keyspace.start_watch(partition))
        for user, value in raw.items():
            self.opened(partition, int(user), text(value))

    async def stop_partition(self, partition: int, *, drain: bool) -> None:
        for user_id in [u for u, w in self._watched.items() if w.partition == partition]:
            del self._watched[user_id]

    def opened(self, partition: int, user_id: int, raw: str) -> None:
        try:
            record = _decode_record.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError):
            log.warning("start_watch_unreadable", partition=partition, user_id=user_id)
            return
        self._watched[user_id] = _Watched(partition, user_id, raw, record, record.baseline)

    def forget(self, user_id: int) -> None:
        """Stop watching the user's start (its record was dropped: the user started over)."""
        self._watched.pop(user_id, None)

    def watching(self, user_id: int) -> bool:
        return user_id in self._watched

    # --- checking --------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if self._watched:
                try:
                    await self.check()
                except RedisError as exc:
                    self._ownership.redis_failed()
                    log.warning("start_watch_check_failed", error=type(exc).__name__)
            await pause(stop, self._interval_s)

    async def check(self) -> None:
        watched = [w for w in self._watched.values() if self._ownership.owns(w.partition)]
        if not watched:
            return
        reply = texts(
            await self._statuses(keys=[keys.worker_status(w.record.worker_id) for w in watched])
        )
        now_ms, statuses = int(reply[0]), reply[1:]
        answers = await self._answers(watched, statuses)
        for watch, status in zip(watched, statuses, strict=True):
            await self._judge(watch, status, now_ms, answers)

    async def _judge(
        self, watch: _Watched, status: str, now_ms: int, answers: dict[str, bool]
    ) -> None:
        fields = {
            "user_id": watch.user_id,
            "worker_id": watch.record.worker_id,
            "partition": watch.partition,
        }
        if status == "RUNNING":
            log.info("po_started", **fields)
            await self._close(watch, None)
        elif answers.get(watch.record.request_id) is False or (
            status in _STOPPED
            and (watch.seen not in _STOPPED or watch.record.request_id in answers)
        ):
            log.warning("po_start_failed", status=status, **fields)
            await self._close(watch, "po_failed")
        elif now_ms >= int(watch.record.deadline_ms):
            log.warning("po_start_timeout", status=status or None, **fields)
            await self._close(watch, "po_start_slow")
        elif status:
            watch.seen = status

    async def _answers(self, watched: list[_Watched], statuses: list[str]) -> dict[str, bool]:
        """request_id -> success, from ``worker:responses:po``, when a status alone is unclear.

        Read only for spawns whose status was FAILED/STOPPED before and still
        is: rare, and then only the entries after the oldest such create.
        """
        unclear = [
            w.record.command_id
            for w, status in zip(watched, statuses, strict=True)
            if w.record.command_id and status in _STOPPED and w.seen in _STOPPED
        ]
        if not unclear:
            return {}
        entries: Any = await self._redis.xrange(
            keys.WORKER_RESPONSES_PO, min=min(unclear, key=_id_key), count=RESPONSES_SCAN
        )
        answers: dict[str, bool] = {}
        for _entry_id, fields in entries:
            try:
                response = decode_entry(fields, WorkerResponse)
            except MalformedEntry:
                continue
            if response.request_id:
                answers[response.request_id] = response.success
        return answers

    async def _close(
        self, watch: _Watched, said: Literal["po_failed", "po_start_slow"] | None
    ) -> None:
        """Close the watch, telling the user ``said`` (a ``Texts`` field) first, if any."""
        if said is not None:
            key = f"po-start:{watch.user_id}:{watch.record.request_id or watch.record.deadline_ms}"
            chat_id = int(watch.record.chat_id)
            notice: str = getattr(await self._languages.texts(chat_id), said)
            sent = await self._outbound.send(chat_id, notice, key=key, markdown=False)
            if sent.delivery is Delivery.RETRY:
                return  # Telegram is away: the next check tries again
            self._typing.stop(watch.user_id)  # "typing…" after "it failed" would contradict it
        closed = await self._conclude(
            keys=[
                keyspace.lease(watch.partition),
                keyspace.start_watch(watch.partition),
                keys.spawn_guard(watch.user_id),
                keyspace.typing(watch.partition),
            ],
            args=[
                self._identity,
                watch.user_id,
                watch.raw,
                watch.record.request_id,
                # The user was told it failed: no "typing…" after a takeover either.
                "1" if said is not None else "",
            ],
        )
        if not closed:
            self._ownership.report_lost(watch.partition)
            return
        if self._watched.get(watch.user_id) is watch:
            del self._watched[watch.user_id]


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)
