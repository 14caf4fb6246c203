"""A fake worker-manager and its PO workers, over a real Redis.

It plays the other side of the streams in CONTRACTS.md:

- it consumes ``worker:commands`` in its own consumer group (``worker-manager``),
  validates each entry as a ``CreateWorkerCommand`` (a bad entry is recorded in
  ``rejected`` and acknowledged, never fatal), writes ``worker:status:{worker_id}``
  (``STARTING``, then ``RUNNING``) and answers on ``worker:responses:po``;
- each RUNNING worker is a PO: it answers every ``worker:po:{user_id}:input``
  entry with a ``worker:po:{user_id}:output`` entry carrying the same
  ``request_id``. One blocking multi-key ``XREAD`` serves every running worker.

Per user, a ``WorkerScript`` says how the start ends (``RUNNING``, ``FAILED``,
or ``STARTING`` forever), how long it takes, whether the status is written as
a plain string (an old worker-manager did), and how the PO replies (reply
function, snapshot chunks, delay, ``text``/``content``/``response``/``result``)::

    async with FakeWorkerManager(redis_url) as wm:
        wm.script(7, outcome="FAILED")
        wm.default_script.chunks = 3
        ...
        await wm.wait_for(lambda: len(wm.commands) == 1)

Like the real one, a PO answers only while its status is ``RUNNING``: input
written earlier waits in the stream and is answered once it is; a worker a
test sets to ``STOPPED`` (here or straight in Redis) stops answering, and what
it had not answered is answered by the next worker started for that user.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final, Literal, Self

import msgspec
import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from shared import keys
from shared.log import get_logger
from shared.schemas import (
    DATA_FIELD,
    CreateWorkerCommand,
    MalformedEntry,
    POWorkerInput,
    WorkerConfig,
    WorkerResponse,
    decode_entry,
    encode_entry,
    new_id,
    utc_now_iso,
)

log = get_logger(__name__)

Outcome = Literal["RUNNING", "FAILED", "STARTING"]
TextField = Literal["text", "content", "response", "result"]
ReplyFunction = Callable[[POWorkerInput], str]

WAKE_STREAM: Final = "fakes:worker-manager:wake"
"""A private stream in the same multi-key XREAD: an entry there wakes the reader
at once when a worker starts, instead of after the block time."""


def echo(message: POWorkerInput) -> str:
    """The default PO reply."""
    return f"echo: {message.text}"


@dataclass
class WorkerScript:
    """How one user's worker starts and how its PO replies."""

    outcome: Outcome = "RUNNING"
    """Where the start ends; ``STARTING`` means it never gets further (and no response is sent)."""
    start_delay: float = 0.0
    """Seconds between ``STARTING`` and the outcome."""
    plain_string_status: bool = False
    """Write ``worker:status:{id}`` with SET instead of a hash, as an old worker-manager did."""
    error: str = "container exited with code 1"
    """The response's ``error`` when the outcome is ``FAILED``."""
    reply: ReplyFunction = echo
    chunks: int = 1
    """Entries per reply: ``chunks - 1`` growing ``is_final: false`` snapshots, then the final."""
    reply_delay: float = 0.0
    """Seconds to wait before each output entry (each snapshot and the final)."""
    text_field: TextField = "text"
    """The JSON key the reply text goes under; deployed wrappers use the other three."""


@dataclass(frozen=True)
class RejectedEntry:
    """An entry the fake could not use: it was recorded and skipped, never fatal."""

    stream: str
    entry_id: str
    fields: dict[str, str]
    reason: str


@dataclass(frozen=True)
class SentOutput:
    """One entry the fake wrote on ``worker:po:{user_id}:output``."""

    user_id: int
    entry_id: str
    request_id: str
    text: str
    is_final: bool


@dataclass(frozen=True)
class _Pending:
    message: POWorkerInput
    entry_id: str
    before: str
    """The read cursor before this entry: where to rewind to read it again."""


@dataclass(eq=False)
class _Worker:
    user_id: int
    worker_id: str
    plain_status: bool
    cursor: str = "0-0"
    rewind_to: str | None = None
    queue: asyncio.Queue[_Pending] = field(default_factory=asyncio.Queue)
    lifecycle: asyncio.Task[None] | None = None
    po: asyncio.Task[None] | None = None


class FakeWorkerManager:
    """The worker-manager's stand-in; see the module doc. ``async with FakeWorkerManager(url)``."""

    def __init__(
        self,
        redis_url: str,
        *,
        group: str = "worker-manager",
        consumer: str = "fake-worker-manager",
        block_ms: int = 500,
    ) -> None:
        self.redis_url = redis_url
        self.group = group
        self.consumer = consumer
        self.block_ms = block_ms
        self.default_script = WorkerScript()
        self.scripts: dict[int, WorkerScript] = {}

        self.commands: list[CreateWorkerCommand] = []
        self.rejected: list[RejectedEntry] = []
        self.responses: list[WorkerResponse] = []
        self.inputs: list[POWorkerInput] = []
        """Inputs a RUNNING PO took up to answer, in order."""
        self.outputs: list[SentOutput] = []
        self.status_log: list[tuple[str, str]] = []
        """Every ``(worker_id, status)`` the fake wrote, in order."""
        self.read_calls = 0
        """Blocking XREADs the PO side started: one per round, whatever the number of
        workers. When it reaches ``n + 2``, round ``n + 1`` has been read and dispatched."""
        self.max_streams_per_read = 0
        """The most PO input streams one XREAD covered."""
        self.start_write_failures = 0
        """Writes of a start (status, response) that failed on a Redis error and were retried."""

        self._workers: dict[int, _Worker] = {}
        self._wake_cursor = "0-0"
        self._redis: aioredis.Redis | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._changed = asyncio.Condition()
        self._stopping = False

    # --- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        self._stopping = False
        # A blocking read must outlive its BLOCK: redis-py 8 defaults socket_timeout to 5 s.
        self._redis = aioredis.Redis.from_url(
            self.redis_url, socket_timeout=self.block_ms / 1000 + 10
        )
        await self._ensure_group()
        self._tasks = [
            asyncio.create_task(self._keep_running(self._command_round), name="fake-wm-commands"),
            asyncio.create_task(self._keep_running(self._input_round), name="fake-wm-po-reader"),
        ]

    async def stop(self) -> None:
        self._stopping = True
        tasks = [*self._tasks]
        for worker in self._workers.values():
            tasks += [task for task in (worker.lifecycle, worker.po) if task is not None]
        for task in tasks:
            task.cancel()
        await self._close_until_done(tasks)
        self._tasks = []
        self._redis = None

    async def _close_until_done(self, tasks: list[asyncio.Task[None]]) -> None:
        """Close the connections until every task has ended.

        Cancelling is not enough: on Python 3.11 ``asyncio.wait_for`` can swallow
        a cancel that lands just as redis-py finishes connecting, and the task goes
        on into a long BLOCK read. Closing the connections ends that read with an
        error, and the loops, seeing ``_stopping``, return.
        """
        pending = set(tasks)
        for _attempt in range(50):
            if self._redis is not None:
                await self._redis.aclose()
            if not pending:
                return
            _done, pending = await asyncio.wait(pending, timeout=0.05)
        log.warning("fake_worker_manager_tasks_left", tasks=[t.get_name() for t in pending])

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- scripting and helpers for tests and the sandbox --------------------------

    def script(self, user_id: int, **changes: Any) -> WorkerScript:
        """Give ``user_id``'s worker its own script: the default with ``changes``."""
        script = dataclasses.replace(self.default_script, **changes)
        self.scripts[user_id] = script
        return script

    def script_for(self, user_id: int) -> WorkerScript:
        return self.scripts.get(user_id, self.default_script)

    async def set_status(self, user_id: int, status: str) -> None:
        """Write a worker's status as the worker-manager would (``STOPPED``, ``RUNNING``...)."""
        worker = self._worker(user_id, keys.po_worker_id(user_id))
        await self._write_status(worker, status)

    async def status(self, user_id: int) -> str | None:
        """The status in Redis of ``po-{user_id}``, hash or plain string."""
        return (await self._statuses([keys.po_worker_id(user_id)]))[0]

    async def create(self, user_id: int, telegram_id: int = 0) -> CreateWorkerCommand:
        """Write a create command for ``user_id``, as the bot would."""
        command = CreateWorkerCommand(
            config=WorkerConfig(
                name=keys.po_worker_id(user_id), env_vars={"USER_ID": str(user_id)}
            ),
            context={"role": "product_owner", "user_telegram_id": str(telegram_id)},
        )
        await self._client().xadd(keys.WORKER_COMMANDS, encode_entry(command))  # type: ignore[arg-type]
        return command

    async def send(
        self, user_id: int, text: str, *, telegram_id: int = 0, chat_id: int = 0
    ) -> POWorkerInput:
        """Write a message on the user's PO input stream, as the bot would."""
        message = POWorkerInput(
            request_id=new_id(),
            user_id=user_id,
            telegram_id=telegram_id,
            chat_id=chat_id,
            text=text,
        )
        await self._client().xadd(keys.po_input(user_id), encode_entry(message))  # type: ignore[arg-type]
        return message

    def outputs_for(self, request_id: str) -> list[SentOutput]:
        return [output for output in self.outputs if output.request_id == request_id]

    async def wait_for(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        """Return once ``predicate()`` holds, re-checked after every change the fake makes.

        Changes are visible in Redis before waiters are woken. ``TimeoutError``
        after ``within`` seconds, so a test that waits in vain fails fast.
        """
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(predicate)

    # --- worker:commands -----------------------------------------------------------

    async def _ensure_group(self) -> None:
        # From id 0: a command written before the fake started is still served.
        with contextlib.suppress(ResponseError):  # BUSYGROUP: it exists already
            await self._client().xgroup_create(
                keys.WORKER_COMMANDS, self.group, id="0", mkstream=True
            )

    async def _keep_running(self, round_: Callable[[], Awaitable[None]]) -> None:
        """Run ``round_`` until stopped; a Redis outage (a restart, say) pauses it, no more."""
        while not self._stopping:
            try:
                await round_()
            except RedisError as exc:
                if self._stopping:
                    return
                log.warning("fake_worker_manager_redis_error", error=type(exc).__name__)
                await asyncio.sleep(0.2)  # Redis is away: try again shortly
                with contextlib.suppress(RedisError):
                    await self._ensure_group()  # a restarted (or flushed) Redis has lost it
            except Exception:
                # A bug in the fake: say so loudly, but keep the other side of the test alive.
                log.exception("fake_worker_manager_failed")
                await asyncio.sleep(0.2)

    async def _command_round(self) -> None:
        redis = self._client()
        # The declared reply type is a union over protocols; RESP2 gives
        # ``[[stream, [(id, fields), ...]]]``.
        reply: Any = await redis.xreadgroup(
            self.group, self.consumer, {keys.WORKER_COMMANDS: ">"}, count=10, block=self.block_ms
        )
        for _stream, entries in reply or []:
            for entry_id, fields in entries:
                await self._handle_command(_text(entry_id), fields)
                await redis.xack(keys.WORKER_COMMANDS, self.group, entry_id)

    async def _handle_command(self, entry_id: str, fields: dict[bytes, bytes]) -> None:
        try:
            command = decode_entry(fields, CreateWorkerCommand)
            user_id = _user_id_of(command.config)
        except MalformedEntry as exc:
            await self._reject(keys.WORKER_COMMANDS, entry_id, fields, str(exc))
            return
        self.commands.append(command)
        worker = self._worker(user_id, command.config.name)
        if worker.lifecycle is not None:
            worker.lifecycle.cancel()  # a new create restarts the worker
        worker.lifecycle = asyncio.create_task(self._start_worker(worker, command))
        await self._notify()

    async def _start_worker(self, worker: _Worker, command: CreateWorkerCommand) -> None:
        script = self.script_for(worker.user_id)
        worker.plain_status = script.plain_string_status
        if not await self._until_done(lambda: self._write_status(worker, "STARTING")):
            return
        if script.start_delay > 0:
            await asyncio.sleep(script.start_delay)  # the simulated start, not a test waiting
        if script.outcome == "STARTING":
            return
        if not await self._until_done(lambda: self._write_status(worker, script.outcome)):
            return
        succeeded = script.outcome == "RUNNING"
        response = WorkerResponse(
            request_id=command.request_id,
            success=succeeded,
            worker_id=worker.worker_id,
            error=None if succeeded else script.error,
        )
        if not await self._until_done(
            lambda: self._client().xadd(keys.WORKER_RESPONSES_PO, encode_entry(response))  # type: ignore[arg-type]
        ):
            return
        self.responses.append(response)
        await self._notify()

    async def _until_done(self, write: Callable[[], Awaitable[object]]) -> bool:
        """Retry a start's write through a Redis outage, as a real worker-manager must.

        The command is acknowledged once the start is under way: a start whose
        status write failed would leave its worker ``STARTING`` for good.
        False: the fake is stopping, and the start ends with it.
        """
        while True:
            try:
                await write()
                return True
            except RedisError as exc:
                if self._stopping:
                    return False
                log.warning("fake_worker_start_redis_error", error=type(exc).__name__)
                self.start_write_failures += 1
                await self._notify()
                await asyncio.sleep(0.2)  # Redis is away: try again shortly

    def _worker(self, user_id: int, worker_id: str) -> _Worker:
        worker = self._workers.get(user_id)
        if worker is None:
            plain = self.script_for(user_id).plain_string_status
            worker = self._workers[user_id] = _Worker(user_id, worker_id, plain)
            worker.po = asyncio.create_task(self._answer(worker), name=f"fake-po-{user_id}")
        return worker

    async def _write_status(self, worker: _Worker, status: str) -> None:
        key = keys.worker_status(worker.worker_id)
        async with self._client().pipeline(transaction=True) as pipe:
            pipe.delete(key)  # the other form may be there from an earlier start
            if worker.plain_status:
                pipe.set(key, status)
            else:
                pipe.hset(key, mapping={"status": status, "updated_at": utc_now_iso()})
            # Wake the PO reader so a worker that just became RUNNING is read at once.
            pipe.xadd(WAKE_STREAM, {"worker_id": worker.worker_id}, maxlen=100)
            await pipe.execute()
        self.status_log.append((worker.worker_id, status))
        await self._notify()

    async def _statuses(self, worker_ids: list[str]) -> list[str | None]:
        """Each worker's status, read as a hash field or, failing that, a plain string."""
        redis = self._client()
        async with redis.pipeline(transaction=False) as pipe:
            for worker_id in worker_ids:
                pipe.hget(keys.worker_status(worker_id), "status")
            values = await pipe.execute(raise_on_error=False)
        statuses: list[str | None] = []
        for worker_id, value in zip(worker_ids, values, strict=True):
            if isinstance(value, ResponseError):  # WRONGTYPE: a plain string
                value = await redis.get(keys.worker_status(worker_id))
            statuses.append(value.decode() if isinstance(value, bytes) else None)
        return statuses

    # --- the PO workers ----------------------------------------------------------

    async def _input_round(self) -> None:
        """One blocking XREAD over the wake stream and every RUNNING worker's input."""
        running = await self._running()
        streams = {WAKE_STREAM: self._wake_cursor}
        streams |= {keys.po_input(w.user_id): w.cursor for w in running}
        self.read_calls += 1
        self.max_streams_per_read = max(self.max_streams_per_read, len(running))
        # Lets a test wait for "a whole read round has passed": read_calls + 2.
        await self._notify()
        reply: Any = await self._client().xread(streams, count=100, block=self.block_ms)  # type: ignore[arg-type]
        by_stream = {keys.po_input(w.user_id): w for w in running}
        for stream, entries in reply or []:
            if _text(stream) == WAKE_STREAM:
                self._wake_cursor = _text(entries[-1][0])
            else:
                await self._dispatch(by_stream[_text(stream)], entries)

    async def _running(self) -> list[_Worker]:
        workers = list(self._workers.values())
        for worker in workers:
            self._apply_rewind(worker)
        statuses = await self._statuses([w.worker_id for w in workers])
        return [w for w, status in zip(workers, statuses, strict=True) if status == "RUNNING"]

    def _apply_rewind(self, worker: _Worker) -> bool:
        if worker.rewind_to is None:
            return False
        worker.cursor, worker.rewind_to = worker.rewind_to, None
        return True

    async def _dispatch(
        self, worker: _Worker, entries: list[tuple[bytes, dict[bytes, bytes]]]
    ) -> None:
        if self._apply_rewind(worker):
            return  # the worker stopped while we read: these entries will be read again
        for raw_id, fields in entries:
            entry_id, before = _text(raw_id), worker.cursor
            worker.cursor = entry_id
            try:
                message = decode_entry(fields, POWorkerInput)
            except MalformedEntry as exc:
                await self._reject(keys.po_input(worker.user_id), entry_id, fields, str(exc))
                continue
            worker.queue.put_nowait(_Pending(message, entry_id, before))

    async def _answer(self, worker: _Worker) -> None:
        """The PO: answers its queue in order, one reply at a time, while RUNNING."""
        while not self._stopping:
            pending = await worker.queue.get()
            try:
                if (await self._statuses([worker.worker_id]))[0] != "RUNNING":
                    self._give_back(worker, pending)
                    continue
                self.inputs.append(pending.message)
                await self._reply(worker, pending.message)
            except RedisError as exc:
                log.warning("fake_po_redis_error", user_id=worker.user_id, error=type(exc).__name__)
                self._give_back(worker, pending)
            except Exception:
                # A reply function that raises is the test's bug: say so, keep serving.
                log.exception("fake_po_reply_failed", user_id=worker.user_id)

    def _give_back(self, worker: _Worker, pending: _Pending) -> None:
        # What was read but not answered goes back to the stream for the next worker.
        worker.rewind_to = pending.before
        while not worker.queue.empty():
            worker.queue.get_nowait()

    async def _reply(self, worker: _Worker, message: POWorkerInput) -> None:
        script = self.script_for(worker.user_id)
        text = script.reply(message)
        chunks = max(1, script.chunks)
        for index in range(1, chunks + 1):
            snapshot = text[: -(-len(text) * index // chunks)]  # ceil: never empty, grows
            if script.reply_delay > 0:
                await asyncio.sleep(script.reply_delay)  # the simulated PO thinking
            await self._write_output(worker, message, snapshot, index == chunks, script)

    async def _write_output(
        self,
        worker: _Worker,
        message: POWorkerInput,
        text: str,
        is_final: bool,
        script: WorkerScript,
    ) -> None:
        # A plain JSON object rather than POWorkerOutput: a PO writes only its own keys.
        payload = {
            "request_id": message.request_id,
            "user_id": worker.user_id,
            script.text_field: text,
            "is_final": is_final,
            "timestamp": utc_now_iso(),
        }
        entry_id = await self._client().xadd(
            keys.po_output(worker.user_id), {DATA_FIELD: msgspec.json.encode(payload)}
        )
        self.outputs.append(
            SentOutput(worker.user_id, _text(entry_id), message.request_id, text, is_final)
        )
        await self._notify()

    # --- shared ------------------------------------------------------------------

    async def _reject(
        self, stream: str, entry_id: str, fields: dict[bytes, bytes], reason: str
    ) -> None:
        log.warning("fake_worker_manager_rejected", stream=stream, entry_id=entry_id, reason=reason)
        readable = {
            k.decode(errors="replace"): v.decode(errors="replace") for k, v in fields.items()
        }
        self.rejected.append(RejectedEntry(stream, entry_id, readable, reason))
        await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _client(self) -> aioredis.Redis:
        if self._redis is None:
            raise RuntimeError("FakeWorkerManager is not started")
        return self._redis


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _user_id_of(config: WorkerConfig) -> int:
    """``po-{user_id}`` names the worker; ``USER_ID`` in its env is the fallback."""
    prefix, _, number = config.name.partition("-")
    for candidate in (number if prefix == "po" else "", config.env_vars.get("USER_ID", "")):
        if candidate.isdigit():
            return int(candidate)
    raise MalformedEntry(f"no user id in worker name {config.name!r} or env USER_ID")
