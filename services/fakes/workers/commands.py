"""``worker:commands``: the fake worker-manager's consumer, and the starts it runs.

Each entry is validated as a ``CreateWorkerCommand`` (or, with ``command:
delete``, a ``DeleteWorkerCommand``); a bad one is recorded in ``rejected``
and acknowledged, never fatal. A create starts (or restarts) the user's
worker: ``STARTING``, then the scripted outcome, then an answer on
``worker:responses:po``. A delete stops it (``STOPPED``) and answers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from redis.exceptions import RedisError, ResponseError

from shared import keys
from shared.connections import text
from shared.log import get_logger
from shared.schemas import (
    CreateWorkerCommand,
    DeleteWorkerCommand,
    MalformedEntry,
    WorkerConfig,
    WorkerResponse,
    decode_entry,
    encode_entry,
)

from .po import PoWorkers
from .records import Worker
from .state import ManagerState
from .status import write_status

log = get_logger(__name__)


class CommandConsumer:
    """Reads ``worker:commands`` in the fake's consumer group and starts workers."""

    def __init__(self, state: ManagerState, po: PoWorkers) -> None:
        self._state = state
        self._po = po

    async def ensure_group(self) -> None:
        # From id 0: a command written before the fake started is still served.
        with contextlib.suppress(ResponseError):  # BUSYGROUP: it exists already
            await self._state.client().xgroup_create(
                keys.WORKER_COMMANDS, self._state.group, id="0", mkstream=True
            )

    async def round(self) -> None:
        """One blocking read of new commands; each is handled, then acknowledged."""
        state = self._state
        redis = state.client()
        # The declared reply type is a union over protocols; RESP2 gives
        # ``[[stream, [(id, fields), ...]]]``.
        reply: Any = await redis.xreadgroup(
            state.group, state.consumer, {keys.WORKER_COMMANDS: ">"}, count=10, block=state.block_ms
        )
        for _stream, entries in reply or []:
            for entry_id, fields in entries:
                await self._handle(text(entry_id), fields)
                await redis.xack(keys.WORKER_COMMANDS, state.group, entry_id)

    async def _handle(self, entry_id: str, fields: dict[bytes, bytes]) -> None:
        try:
            kind = decode_entry(fields, _CommandKind).command
        except MalformedEntry as exc:
            await self._state.reject(keys.WORKER_COMMANDS, entry_id, fields, str(exc))
            return
        if kind == "delete":
            await self._delete(entry_id, fields)
            return
        try:
            command = decode_entry(fields, CreateWorkerCommand)
            user_id = _user_id_of(command.config)
        except MalformedEntry as exc:
            await self._state.reject(keys.WORKER_COMMANDS, entry_id, fields, str(exc))
            return
        self._state.commands.append(command)
        worker = self._po.worker(user_id, command.config.name)
        if worker.lifecycle is not None:
            worker.lifecycle.cancel()  # a new create restarts the worker
        worker.lifecycle = asyncio.create_task(self._start(worker, command))
        await self._state.notify()

    async def _delete(self, entry_id: str, fields: dict[bytes, bytes]) -> None:
        """Stop the worker: ``STOPPED``, its PO forgets what it read and had not answered."""
        try:
            command = decode_entry(fields, DeleteWorkerCommand)
        except MalformedEntry as exc:
            await self._state.reject(keys.WORKER_COMMANDS, entry_id, fields, str(exc))
            return
        self._state.deletes.append(command)
        found = [w for w in self._po.workers.values() if w.worker_id == command.worker_id]
        for worker in found:
            if worker.lifecycle is not None:
                worker.lifecycle.cancel()
            while not worker.queue.empty():
                worker.queue.get_nowait()
            worker.cancelled.add(worker.answering)  # the container is gone mid-reply
            await self._until_done(lambda w=worker: write_status(self._state, w, "STOPPED"))  # type: ignore[misc]
        response = WorkerResponse(
            request_id=command.request_id,
            success=bool(found),
            worker_id=command.worker_id,
            error=None if found else "worker not found",
        )
        await self._until_done(
            lambda: self._state.client().xadd(keys.WORKER_RESPONSES_PO, encode_entry(response))  # type: ignore[arg-type]
        )
        self._state.responses.append(response)
        await self._state.notify()

    async def _start(self, worker: Worker, command: CreateWorkerCommand) -> None:
        state = self._state
        script = state.script_for(worker.user_id)
        worker.plain_status = script.plain_string_status
        if not await self._until_done(lambda: write_status(state, worker, "STARTING")):
            return
        if script.start_delay > 0:
            await asyncio.sleep(script.start_delay)  # the simulated start, not a test waiting
        if script.outcome == "STARTING":
            return
        if not await self._until_done(lambda: write_status(state, worker, script.outcome)):
            return
        succeeded = script.outcome == "RUNNING"
        response = WorkerResponse(
            request_id=command.request_id,
            success=succeeded,
            worker_id=worker.worker_id,
            error=None if succeeded else script.error,
        )
        if not await self._until_done(
            lambda: state.client().xadd(keys.WORKER_RESPONSES_PO, encode_entry(response))  # type: ignore[arg-type]
        ):
            return
        state.responses.append(response)
        await state.notify()

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
                if self._state.stopping:
                    return False
                log.warning("fake_worker_start_redis_error", error=type(exc).__name__)
                self._state.start_write_failures += 1
                await self._state.notify()
                await asyncio.sleep(0.2)  # Redis is away: try again shortly


class _CommandKind(msgspec.Struct):
    command: str = "create"


def _user_id_of(config: WorkerConfig) -> int:
    """``po-{user_id}`` names the worker; ``USER_ID`` in its env is the fallback."""
    prefix, _, number = config.name.partition("-")
    for candidate in (number if prefix == "po" else "", config.env_vars.get("USER_ID", "")):
        if candidate.isdigit():
            return int(candidate)
    raise MalformedEntry(f"no user id in worker name {config.name!r} or env USER_ID")
