"""Sending the ingress's stored answers, per chat in order, and taking over a dead process's.

- :class:`Outbox`, what handlers get (``outbox`` in the handler data, and
  inside ``KeyboardSessions``): bound to the update being handled and its
  ``IntakeBatch``. :meth:`Outbox.say` and :meth:`Outbox.edit` only add the
  answer to the batch, with the update's id, and return at once.
- :class:`Courier`, one per process: once ``Intake.store`` has put the
  batch in Redis (the answers in ``bot:answers``, in the same script call
  as the messages and the update's dedupe key), it gets the stored answers
  with their entry ids, sends each chat's in order through
  ``shared.sender.Sender`` by a task per chat, and deletes each entry
  (``XDEL``) once the answer was delivered or given up for good. Nothing in
  ``services/ingress`` calls ``bot.send_message``.

Durability. An update counts as received (polling offset moved, webhook
200) only once its answers are in Redis, so no crash loses one: an answer
the batch produced but the store never persisted is never sent, and
Telegram delivers its update again. Each entry names its ``owner``, this
process's instance id; the process keeps ``bot:ingress:alive:{instance}``
alive (``INGRESS_ALIVE_TTL_S``, renewed every ``INGRESS_ALIVE_REFRESH_S``).
Every ingress scans ``bot:answers`` at start and every ``ANSWERS_SCAN_S``
(:meth:`Courier.recover`) and takes over, in one script per page (the
owner's alive key still missing, the old entry deleted, a copy added with
itself as owner and the same ``answer_id``), the answers whose owner is
gone, then sends them in entry order. So an answer is sent at least once
in storage terms; and at most once as the user sees it, because new
messages go out under the sender's idempotency key ``answer:{answer_id}``:
a process killed after Telegram accepted an answer but before its
``XDEL`` leaves a copy that the next owner finds already sent (an edit
done twice changes nothing). After a crash the answers go out within about
the alive TTL plus one scan period; on SIGTERM :meth:`Courier.close` gives
them a few seconds, and what is left is taken over at once (the alive key
is deleted on the way out). Answers older than ``ANSWERS_MAX_AGE_S`` (an
hour) when recovered are dropped (``answer_expired``): a list that old is
worth less than the surprise. Two processes sending one answer at the same
moment (an owner alive but not renewing its key, say through a Redis outage
longer than the TTL) are not guarded against: the sender's key keeps that
to a rare double.

Why in the background: the sender waits for budget (1 message a second per
chat by default) and honours every ``retry_after`` in full, which can be
minutes. Awaited in a handler, one chatty user or one 429 would stall every
update behind it, since updates are handled one at a time.

Why bounded, and lossy past the bound: answers are quick-command lists,
help and rejections, worth little once they are stale, and a person (or a
crowd of strangers) typing faster than Telegram lets us answer must not
grow memory (or ``bot:answers``) without limit. Each chat keeps at most
``per_chat`` answers waiting, counting those of the batch being handled;
past it, and past ``max_chats`` chats with answers waiting, a new answer is
dropped before it is stored, and logged (``answer_dropped``). Recovery
takes over only what fits; the rest waits in Redis for a later scan. Chat
messages for the PO never go through here (``intake``).

Order: one task per chat sends that chat's answers in the order they were
stored. Edits (:meth:`Outbox.edit`: a list turned to another page) go the
same way as new answers, through the same per-chat queue and
``Sender.edit_piece``: an edit takes the chat's flood budget like a
message, keeps its place in the chat's order (a page turn never overtakes
the answer it edits), and a 429 on it stalls no update. Answers taken over
from a dead process are queued after what this process already has for
the chat.

Redis failing while an answer is sent is retried briefly; then the chat's
waiting answers are left in Redis (they are forgotten here, not deleted)
and this process's own next scans pick them up again (an entry of its own
that it does not know of, seen by two scans in a row; the same covers a
store whose reply was lost after the script ran).

"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple, TypeVar

import msgspec
from redis.exceptions import RedisError

from services.ingress.batch import IntakeBatch, StoredAnswerEntry
from shared import keys, scripts
from shared.connections import text
from shared.log import get_logger
from shared.schemas import AnswerMark, MalformedEntry, StoredAnswer, decode_entry, encode
from shared.sender import Outcome, Sender, SendResult

log = get_logger(__name__)

R = TypeVar("R")

PER_CHAT: Final = 10
"""Answers waiting in one chat: ten seconds of answers at Telegram's per-chat pace."""
MAX_CHATS: Final = 10_000
REDIS_ATTEMPTS: Final = 3
REDIS_RETRY_S: Final = 0.5
ALIVE_TTL_S: Final = 15.0
ALIVE_REFRESH_S: Final = 5.0
SCAN_S: Final = 5.0
MAX_AGE_S: Final = 60.0 * 60
CANCEL_WAIT_S: Final = 1.0
"""On close, how long cancelled sends get to end before the alive key goes anyway."""
SCAN_COUNT: Final = 100
"""Entries read per ``XRANGE`` of a scan."""
SCAN_PAGES: Final = 10
"""Pages one scan reads at most; the next scan goes on where it stopped."""


_items_encoder = msgspec.json.Encoder()


def new_instance_id() -> str:
    """This process's name as an answers' owner: host, pid and a random tag (unique per start)."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"


class _Queued(NamedTuple):
    entry_id: str
    answer: StoredAnswer


class _RedisDown:
    """Redis failed through every attempt (already logged)."""


class Courier:
    """Sends stored answers, per chat in order, and takes over those of dead processes.

    :meth:`start` sets the alive key and starts the keep-alive and recovery
    loops; :meth:`close` stops them. ``alive_ttl_s``, ``alive_refresh_s``,
    ``scan_s`` and ``max_age_s`` are the ingress settings
    ``INGRESS_ALIVE_TTL_S``, ``INGRESS_ALIVE_REFRESH_S``, ``ANSWERS_SCAN_S``
    and ``ANSWERS_MAX_AGE_S``.
    """

    def __init__(
        self,
        sender: Sender,
        *,
        instance: str | None = None,
        per_chat: int = PER_CHAT,
        max_chats: int = MAX_CHATS,
        alive_ttl_s: float = ALIVE_TTL_S,
        alive_refresh_s: float = ALIVE_REFRESH_S,
        scan_s: float = SCAN_S,
        max_age_s: float = MAX_AGE_S,
        scan_count: int = SCAN_COUNT,
    ) -> None:
        self.instance = instance or new_instance_id()
        self._sender = sender
        self._redis = sender.redis
        self._alive_key = keys.ingress_alive(self.instance)
        self._per_chat = per_chat
        self._max_chats = max_chats
        self._alive_ttl_ms = max(1, int(alive_ttl_s * 1000))
        self._alive_refresh_s = alive_refresh_s
        self._scan_s = scan_s
        self._max_age_s = max_age_s
        self._scan_count = scan_count
        self._queues: dict[int, collections.deque[_Queued]] = {}
        self._known: set[str] = set()
        """Entry ids of the answers this process is sending or will send."""
        self._cursor = "-"
        self._unclaimed: set[str] = set()
        """Own entries not known here, as seen by the previous round of scans."""
        self._unclaimed_now: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = asyncio.Event()
        self._take = scripts.register(self._redis, __file__, "take_over.lua")
        self._set_new_mark = scripts.register(self._redis, __file__, "set_mark.lua")

    # ---- the batch side

    def refusal(self, chat_id: int, batch: IntakeBatch) -> str | None:
        """Why one more answer to ``chat_id`` must be dropped (None: it may be stored)."""
        queue = self._queues.get(chat_id)
        in_batch = batch.answers_to(chat_id)
        if queue is None and in_batch == 0:
            chats = len(self._queues) + sum(
                1 for other in batch.answer_chats if other not in self._queues
            )
            return "too_many_chats" if chats >= self._max_chats else None
        waiting = (0 if queue is None else len(queue)) + in_batch
        return "chat_backlog" if waiting >= self._per_chat else None

    def queue(self, stored: Iterable[StoredAnswerEntry]) -> None:
        """Send these stored answers (entry id, answer), each chat's in the order given.

        After :meth:`close` they are left in Redis, for whoever takes them over.
        """
        if self._stopping.is_set():
            return
        for entry_id, answer in stored:
            if entry_id in self._known:
                continue  # recovered while its store's reply was on the way
            self._known.add(entry_id)
            queue = self._queues.get(answer.chat_id)
            if queue is None:
                queue = self._queues[answer.chat_id] = collections.deque()
                self._start_chat(answer.chat_id, queue)
            queue.append(_Queued(entry_id, answer))

    # ---- sending

    def _start_chat(self, chat_id: int, queue: collections.deque[_Queued]) -> None:
        self._idle.clear()
        task = asyncio.create_task(self._drain(chat_id, queue), name=f"outbox-{chat_id}")
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("outbox_failed", error=type(exc).__name__, exc_info=exc)
        if not self._tasks:
            self._idle.set()

    async def _drain(self, chat_id: int, queue: collections.deque[_Queued]) -> None:
        try:
            while queue:
                item = queue[0]
                if not await self._send(chat_id, item):
                    # Left in Redis, forgotten here: a later scan of ours takes them up again.
                    log.warning(
                        "answers_deferred",
                        chat_id=chat_id,
                        answers=len(queue),
                        reason="redis_unavailable",
                    )
                    self._known.difference_update(left.entry_id for left in queue)
                    queue.clear()
                    break
                queue.popleft()
                self._known.discard(item.entry_id)
        finally:
            # Sends are awaited above, so nothing was added between the last check and here.
            del self._queues[chat_id]
            # Left by a failure (a bug): forgotten, so a later scan of ours tries them again.
            self._known.difference_update(left.entry_id for left in queue)

    async def _send(self, chat_id: int, item: _Queued) -> bool:
        """Send one answer and delete its entry; False when Redis failed (it stays stored)."""
        answer = item.answer
        mark = answer.mark
        go = True
        if mark is not None:
            # Apart from the send below: retrying a send must not meet its own mark.
            fresh = await self._with_redis(chat_id, lambda: self._set_mark(mark, answer.answer_id))
            if isinstance(fresh, _RedisDown):
                return False
            if not fresh:
                log.debug("answer_skipped", chat_id=chat_id, reason="marked")
                go = False
        if go:
            result = await self._with_redis(chat_id, lambda: self._deliver(chat_id, answer))
            if isinstance(result, _RedisDown):
                return False
            if result.outcome is not Outcome.DELIVERED:
                # The sender has logged why (blocked, rejected, retries spent).
                log.info("answer_not_delivered", chat_id=chat_id, outcome=result.outcome)
        deleted = await self._with_redis(
            chat_id, lambda: self._redis.xdel(keys.ANSWERS, item.entry_id)
        )
        return not isinstance(deleted, _RedisDown)

    async def _deliver(self, chat_id: int, answer: StoredAnswer) -> SendResult:
        if answer.edit_of is None:
            # The key makes a copy sent again after a crash a no-op for what Telegram accepted.
            return await self._sender.send_pieces(
                chat_id,
                answer.pieces,
                key=answer_key(answer.answer_id),
                reply_markup=answer.reply_markup,
            )
        return await self._sender.edit_piece(
            chat_id, answer.edit_of, answer.pieces[0], reply_markup=answer.reply_markup
        )

    async def _set_mark(self, mark: AnswerMark, answer_id: str) -> bool:
        """Set ``mark`` to the answer's id; whether the answer should go out."""
        if not mark.only_if_new:
            await self._redis.set(mark.key, answer_id, ex=mark.ttl_s)
            return True
        # Set now, or by this very answer before a crash: it still has to go out.
        go: int = await self._set_new_mark(keys=[mark.key], args=[answer_id, mark.ttl_s])
        return go == 1

    async def _with_redis(
        self, chat_id: int, operation: Callable[[], Awaitable[R]]
    ) -> R | _RedisDown:
        """``operation()``, tried again briefly while Redis fails."""
        for attempt in range(1, REDIS_ATTEMPTS + 1):
            try:
                return await operation()
            except RedisError as exc:
                # The flood budget (and any mark) lives in Redis: without it we may not send.
                log.warning(
                    "answer_redis_error", chat_id=chat_id, attempt=attempt, error=type(exc).__name__
                )
                if attempt < REDIS_ATTEMPTS:
                    await asyncio.sleep(REDIS_RETRY_S * attempt)
        return _RedisDown()

    # ---- ownership and recovery

    async def start(self) -> None:
        """Announce this process alive, then keep it so and recover answers in the background."""
        await self._keep_alive_once()
        self._loops = [
            asyncio.create_task(self._keep_alive(), name="answers-alive"),
            asyncio.create_task(self._recover_loop(), name="answers-recovery"),
        ]

    async def _keep_alive_once(self) -> None:
        try:
            await self._redis.set(self._alive_key, 1, px=self._alive_ttl_ms)
        except RedisError as exc:
            log.warning("ingress_alive_failed", error=type(exc).__name__)

    async def _keep_alive(self) -> None:
        while not await self._stopped_within(self._alive_refresh_s):
            await self._keep_alive_once()

    async def _recover_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.recover()
            except RedisError as exc:
                log.warning("answers_recovery_failed", error=type(exc).__name__)
            except Exception:
                log.exception("answers_recovery_failed")
            if await self._stopped_within(self._scan_s):
                return

    async def _stopped_within(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)
        return self._stopping.is_set()

    async def recover(self) -> int:
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
        if not candidates:
            return 0
        dead = await self._dead_owners({a.owner for _, a in candidates} - {self.instance})
        # (entry id, the answer as it will be sent, the take script's item or [] for our own)
        plan: list[tuple[str, StoredAnswer, list[str]]] = []
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
                plan.append((entry_id, answer, [entry_id, alive_key, ""]))
                continue
            if not self._room_for(answer.chat_id, room):
                continue  # left for a later scan
            room[answer.chat_id] = room.get(answer.chat_id, 0) + 1
            if own:
                plan.append((entry_id, answer, []))
            else:
                mine = msgspec.structs.replace(answer, owner=self.instance)
                plan.append((entry_id, mine, [entry_id, alive_key, encode(mine).decode()]))
        items = [item for _, _, item in plan if item]
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
            self.queue(ready)
        return len(ready)

    def _room_for(self, chat_id: int, planned: dict[int, int]) -> bool:
        queue = self._queues.get(chat_id)
        if queue is None and chat_id not in planned:
            return len(self._queues) + len(planned) < self._max_chats
        waiting = (0 if queue is None else len(queue)) + planned.get(chat_id, 0)
        return waiting < self._per_chat

    async def _dead_owners(self, owners: set[str]) -> set[str]:
        if not owners:
            return set()
        ordered = sorted(owners)
        alive = await self._redis.mget([keys.ingress_alive(owner) for owner in ordered])
        return {owner for owner, value in zip(ordered, alive, strict=True) if value is None}

    async def _take_over(self, items: list[list[str]]) -> list[Any]:
        results: list[Any] = await self._take(args=[keys.ANSWERS, _items_encoder.encode(items)])
        return results

    # ---- the way out

    async def join(self) -> None:
        """Wait until every queued answer has been sent (or given up, or left in Redis)."""
        await self._idle.wait()

    async def close(self, timeout_s: float) -> None:
        """Give waiting answers ``timeout_s`` to go out; leave the rest in Redis for others.

        The alive key is deleted last, so another ingress (or the next
        start) takes what is left over at its next scan.
        """
        self._stopping.set()
        for loop in self._loops:
            # A scan cut short may have taken answers it never queued: they are
            # ours in Redis, and the alive key goes below, so others take them.
            loop.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.join(), timeout_s)
        waiting = sum(len(queue) for queue in self._queues.values())
        if waiting:
            log.warning("answers_left_stored", answers=waiting, chats=len(self._queues))
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            # Bounded: a cancel that a library swallows (seen once inside a send
            # that had just met a 429) must not hold a SIGTERM for the whole
            # retry_after; what such a task has not sent stays stored for others.
            _, stuck = await asyncio.wait(tasks, timeout=CANCEL_WAIT_S)
            if stuck:
                log.warning("answer_tasks_not_stopped", tasks=len(stuck))
        try:
            await self._redis.delete(self._alive_key)
        except RedisError as exc:
            log.warning("ingress_alive_failed", error=type(exc).__name__)


def answer_key(answer_id: str) -> str:
    """The sender's idempotency key of an answer sent as new messages."""
    return f"answer:{answer_id}"


def _age_s(created_at: str) -> float:
    try:
        created = datetime.fromisoformat(created_at)
    except ValueError:
        return float("inf")
    return (datetime.now(UTC) - created).total_seconds()
