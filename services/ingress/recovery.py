"""Taking over the answers a dead ingress left in ``bot:answers``, and our own lost ones.

Every ingress scans ``bot:answers`` at start and every ``ANSWERS_SCAN_S``.
An answer whose owner's alive key is gone is taken over in one script per
page (``take_over.lua``: the key still missing, the old entry deleted, a
copy added with this process as owner and the same ``answer_id``), then
queued for sending. An own entry this process does not know of (a store
whose reply was lost after the script ran) is taken up once two scans in a
row have seen it. Too old, an answer is dropped (``answer_expired``).
The whole path: docs/ARCHITECTURE.md, "Ingress: the answer path".
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple

import msgspec
import redis.asyncio as aioredis

from services.ingress.batch import StoredAnswerEntry
from shared import keys, scripts
from shared.connections import text
from shared.log import get_logger
from shared.schemas import MalformedEntry, StoredAnswer, decode_entry, encode

log = get_logger(__name__)

MAX_AGE_S: Final = 60.0 * 60
SCAN_COUNT: Final = 100
"""Entries read per ``XRANGE`` of a scan."""
SCAN_PAGES: Final = 10
"""Pages one scan reads at most; the next scan goes on where it stopped."""

HasRoom = Callable[[int, Mapping[int, int]], bool]
"""Whether a chat has room for one more answer, given those already planned per chat."""

_items_encoder = msgspec.json.Encoder()


class _Step(NamedTuple):
    entry_id: str
    answer: StoredAnswer
    """The answer as it will be sent (with this process as owner)."""
    item: list[str]
    """The take script's item ([entry id, alive key, copy's data]); [] for our own."""


class AnswerRecovery:
    """One process's scans of ``bot:answers``, for the courier.

    ``known``: the entry ids the courier is sending or will send (read only);
    ``has_room``: the courier's bound; ``queue``: hands the taken answers over.
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        instance: str,
        *,
        known: Collection[str],
        has_room: HasRoom,
        queue: Callable[[list[StoredAnswerEntry]], None],
        max_age_s: float = MAX_AGE_S,
        scan_count: int = SCAN_COUNT,
    ) -> None:
        self.instance = instance
        self._redis = redis
        self._known = known
        self._has_room = has_room
        self._queue = queue
        self._max_age_s = max_age_s
        self._scan_count = scan_count
        self._cursor = "-"
        self._unclaimed: set[str] = set()
        """Own entries not known here, as seen by the previous round of scans."""
        self._unclaimed_now: set[str] = set()
        self._take = scripts.register(redis, __file__, "take_over.lua")

    async def scan(self) -> int:
        """One scan of ``bot:answers``: take over what dead owners left; how many were queued.

        Reads at most ``SCAN_PAGES`` pages of ``scan_count`` entries from
        where the last scan stopped; a round ends at the stream's end.
        """
        queued = 0
        for _ in range(SCAN_PAGES):
            entries: list[tuple[bytes, dict[bytes, bytes]]] = await self._redis.xrange(  # type: ignore[assignment]
                keys.ANSWERS, min=self._cursor, max="+", count=self._scan_count
            )
            if entries:
                queued += await self._recover_page(entries)
            if len(entries) < self._scan_count:
                self._cursor = "-"
                self._unclaimed, self._unclaimed_now = self._unclaimed_now, set()
                break
            self._cursor = "(" + text(entries[-1][0])
        return queued

    async def _recover_page(self, entries: Sequence[tuple[Any, Any]]) -> int:
        candidates = await self._candidates(entries)
        if not candidates:
            return 0
        dead = await self._dead_owners({a.owner for _, a in candidates} - {self.instance})
        ready = await self._carry_out(self._plan(candidates, dead))
        if ready:
            self._queue(ready)
        return len(ready)

    async def _candidates(self, entries: Sequence[tuple[Any, Any]]) -> list[StoredAnswerEntry]:
        """The page's answers of other owners, and our own lost ones; malformed ones deleted."""
        candidates: list[StoredAnswerEntry] = []
        malformed: list[str] = []
        for raw_id, fields in entries:
            entry_id = text(raw_id)
            try:
                answer = decode_entry(fields, StoredAnswer)
            except MalformedEntry as exc:
                log.error("answer_malformed", entry_id=entry_id, error=str(exc))
                malformed.append(entry_id)
                continue
            if answer.owner != self.instance:
                candidates.append(StoredAnswerEntry(entry_id, answer))
            elif entry_id not in self._known:
                if entry_id in self._unclaimed:
                    candidates.append(StoredAnswerEntry(entry_id, answer))
                else:
                    self._unclaimed_now.add(entry_id)
        if malformed:
            await self._redis.xdel(keys.ANSWERS, *malformed)
        return candidates

    def _plan(self, candidates: list[StoredAnswerEntry], dead: set[str]) -> list[_Step]:
        """What to do with each candidate: expired ones dropped, the rest taken if they fit."""
        plan: list[_Step] = []
        room: dict[int, int] = {}
        for entry_id, answer in candidates:
            own = answer.owner == self.instance
            if not own and answer.owner not in dead:
                continue
            alive_key = "" if own else keys.ingress_alive(answer.owner)
            age_s = _age_s(answer.created_at)
            if age_s > self._max_age_s:
                log.warning(
                    "answer_expired",
                    chat_id=answer.chat_id,
                    entry_id=entry_id,
                    owner=answer.owner,
                    age_s=round(age_s),
                )
                plan.append(_Step(entry_id, answer, [entry_id, alive_key, ""]))
                continue
            if not self._has_room(answer.chat_id, room):
                continue  # left for a later scan
            room[answer.chat_id] = room.get(answer.chat_id, 0) + 1
            if own:
                plan.append(_Step(entry_id, answer, []))
            else:
                mine = msgspec.structs.replace(answer, owner=self.instance)
                plan.append(_Step(entry_id, mine, [entry_id, alive_key, encode(mine).decode()]))
        return plan

    async def _carry_out(self, plan: list[_Step]) -> list[StoredAnswerEntry]:
        """Run the take script for ``plan``; the answers now ours to send, in order."""
        items = [step.item for step in plan if step.item]
        results = iter(await self._take_over(items) if items else [])
        ready: list[StoredAnswerEntry] = []
        taken = adopted = 0
        for entry_id, answer, item in plan:
            if not item:
                ready.append(StoredAnswerEntry(entry_id, answer))
                self._unclaimed.discard(entry_id)
                adopted += 1
                continue
            result = next(results)
            if item[2] and result != 0:
                ready.append(StoredAnswerEntry(text(result), answer))
                taken += 1
        if ready:
            log.info("answers_recovered", taken=taken, own=adopted)
        return ready

    async def _dead_owners(self, owners: set[str]) -> set[str]:
        if not owners:
            return set()
        ordered = sorted(owners)
        alive = await self._redis.mget([keys.ingress_alive(owner) for owner in ordered])
        return {owner for owner, value in zip(ordered, alive, strict=True) if value is None}

    async def _take_over(self, items: list[list[str]]) -> list[Any]:
        results: list[Any] = await self._take(args=[keys.ANSWERS, _items_encoder.encode(items)])
        return results


def _age_s(created_at: str) -> float:
    try:
        created = datetime.fromisoformat(created_at)
    except ValueError:
        return float("inf")
    return (datetime.now(UTC) - created).total_seconds()
