"""The PO workers: each RUNNING worker answers its user's input stream, in order.

One blocking multi-key ``XREAD`` serves every running worker (plus the wake
stream); what it reads goes on the worker's queue, and the worker's task
answers it while the worker is ``RUNNING``. A worker that stops gives back
what it had read but not answered: the cursor rewinds, so the next worker
started for that user answers it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from redis.exceptions import RedisError

from shared import keys
from shared.connections import text
from shared.log import get_logger
from shared.schemas import DATA_FIELD, MalformedEntry, POWorkerInput, new_id, utc_now_iso

from .files import DEMO_TEXT, demo_attachments, describe, is_demo, read_attachments
from .records import Pending, SentOutput, Worker
from .script import WorkerScript
from .state import ManagerState
from .status import WAKE_STREAM, read_statuses
from .wire import (
    input_stream,
    lifecycle_event,
    output_stream,
    read_attachments_field,
    read_input,
    wrapper_output,
)

log = get_logger(__name__)


class PoWorkers:
    """Every user's worker, and the one reader that feeds their POs."""

    def __init__(self, state: ManagerState) -> None:
        self._state = state
        self.workers: dict[int, Worker] = {}
        self._wake_cursor = "0-0"

    def worker(self, user_id: int, worker_id: str) -> Worker:
        """The user's worker, made (with its PO task) the first time it is asked for."""
        worker = self.workers.get(user_id)
        if worker is None:
            plain = self._state.script_for(user_id).plain_string_status
            worker = self.workers[user_id] = Worker(user_id, worker_id, plain)
            worker.po = asyncio.create_task(self._answer(worker), name=f"fake-po-{user_id}")
        return worker

    # --- reading -------------------------------------------------------------------

    async def input_round(self) -> None:
        """One blocking XREAD over the wake stream and every RUNNING worker's input."""
        state = self._state
        running = await self._running()
        streams = {WAKE_STREAM: self._wake_cursor}
        profile = state.profile
        streams |= {input_stream(profile, w.user_id): w.cursor for w in running}
        state.read_calls += 1
        state.max_streams_per_read = max(state.max_streams_per_read, len(running))
        # Lets a test wait for "a whole read round has passed": read_calls + 2.
        await state.notify()
        reply: Any = await state.client().xread(streams, count=100, block=state.block_ms)  # type: ignore[arg-type]
        by_stream = {input_stream(profile, w.user_id): w for w in running}
        for stream, entries in reply or []:
            if text(stream) == WAKE_STREAM:
                self._wake_cursor = text(entries[-1][0])
            else:
                await self._dispatch(by_stream[text(stream)], entries)

    async def _running(self) -> list[Worker]:
        workers = list(self.workers.values())
        for worker in workers:
            _apply_rewind(worker)
        statuses = await read_statuses(self._state, [w.worker_id for w in workers])
        return [w for w, status in zip(workers, statuses, strict=True) if status == "RUNNING"]

    async def _dispatch(
        self, worker: Worker, entries: list[tuple[bytes, dict[bytes, bytes]]]
    ) -> None:
        if _apply_rewind(worker):
            return  # the worker stopped while we read: these entries will be read again
        for raw_id, fields in entries:
            entry_id, before = text(raw_id), worker.cursor
            worker.cursor = entry_id
            profile = self._state.profile
            try:
                message = read_input(profile, worker.user_id, fields)
            except MalformedEntry as exc:
                stream = input_stream(profile, worker.user_id)
                await self._state.reject(stream, entry_id, fields, str(exc))
                continue
            if message.type == "cancel":
                self._state.cancels.append(message)
                if self._state.script_for(worker.user_id).honours_cancel:
                    worker.cancelled.add(message.cancels or "")
                await self._state.notify()
                continue
            if message.type == "button":
                self._state.buttons.append(message)
                await self._state.notify()
            attachments, unreadable = read_attachments(read_attachments_field(profile, fields))
            worker.queue.put_nowait(Pending(message, entry_id, before, attachments, unreadable))

    # --- answering -----------------------------------------------------------------

    async def _answer(self, worker: Worker) -> None:
        """The PO: answers its queue in order, one reply at a time, while RUNNING."""
        state = self._state
        while not state.stopping:
            pending = await worker.queue.get()
            try:
                if (await read_statuses(state, [worker.worker_id]))[0] != "RUNNING":
                    _give_back(worker, pending)
                    continue
                state.inputs.append(pending.message)
                if pending.message.request_id in worker.cancelled:
                    continue  # stopped before the PO got to it
                worker.answering = pending.message.request_id
                await self._reply(worker, pending)
                worker.answering = ""
                self._schedule_follow_up(worker, pending.message)
            except RedisError as exc:
                log.warning("fake_po_redis_error", user_id=worker.user_id, error=type(exc).__name__)
                _give_back(worker, pending)
            except Exception:
                # A reply function that raises is the test's bug: say so, keep serving.
                log.exception("fake_po_reply_failed", user_id=worker.user_id)

    async def _reply(self, worker: Worker, pending: Pending) -> None:
        message = pending.message
        script = self._state.script_for(worker.user_id)
        reply, files = await _content(script, pending)
        if self._state.profile == "worker-streams":
            await self._wrapper_reply(worker, message, reply, script, files)
            return
        chunks = max(1, script.chunks)
        if script.think_s > 0:
            await asyncio.sleep(script.think_s)
        for index in range(1, chunks + 1):
            snapshot = reply[: -(-len(reply) * index // chunks)]  # ceil: never empty, grows
            if script.reply_delay > 0:
                await asyncio.sleep(script.reply_delay)  # the simulated PO thinking
            if message.request_id in worker.cancelled:
                return  # the user stopped it: nothing more of this reply
            final = index == chunks
            await self._write_output(worker, message, snapshot, final, script, files)

    async def _write_output(
        self,
        worker: Worker,
        message: POWorkerInput,
        snapshot: str,
        is_final: bool,
        script: WorkerScript,
        files: list[dict[str, str]],
    ) -> None:
        # A plain JSON object rather than POWorkerOutput: a PO writes only its own keys.
        payload = {
            "request_id": message.request_id,
            "user_id": worker.user_id,
            script.text_field: snapshot,
            "is_final": is_final,
            "timestamp": utc_now_iso(),
        }
        if is_final:
            payload |= _buttons(script, message) | _files(files)
        entry_id = await self._state.client().xadd(
            keys.po_output(worker.user_id), {DATA_FIELD: msgspec.json.encode(payload)}
        )
        self._state.outputs.append(
            SentOutput(worker.user_id, text(entry_id), message.request_id, snapshot, is_final)
        )
        await self._state.notify()

    async def _wrapper_reply(
        self,
        worker: Worker,
        message: POWorkerInput,
        reply: str,
        script: WorkerScript,
        files: list[dict[str, str]],
    ) -> None:
        """The worker wrapper: ``started``, one output entry in the script's shape, then
        ``completed`` or ``failed`` (never streamed)."""
        state = self._state
        redis = state.client()
        await self._lifecycle(worker, "started")
        # No snapshots here: the same thinking time as in ``seed``, then the one entry.
        thinking = script.think_s + script.reply_delay * max(1, script.chunks)
        if thinking > 0:
            await asyncio.sleep(thinking)
        failed = script.wrapper_output == "failed"
        payload = wrapper_output(script.wrapper_output, reply, script.error)
        payload |= _buttons(script, message)
        if not failed:
            payload |= _files(files)
        entry_id = await redis.xadd(
            output_stream(state.profile, worker.user_id), {DATA_FIELD: msgspec.json.encode(payload)}
        )
        shown = script.error if failed else reply
        state.outputs.append(
            SentOutput(worker.user_id, text(entry_id), message.request_id, shown, True)
        )
        if failed:
            await self._lifecycle(worker, "failed", error=script.error)
        else:
            await self._lifecycle(worker, "completed", result=payload)

    # --- what the PO writes on its own ----------------------------------------------

    def _schedule_follow_up(self, worker: Worker, message: POWorkerInput) -> None:
        """``follow_up_s`` after this reply, unless a newer message starts the wait again."""
        script = self._state.script_for(worker.user_id)
        if script.follow_up is None:
            return
        if worker.follow_up is not None:
            worker.follow_up.cancel()
        worker.follow_up = asyncio.create_task(
            self._follow_up(worker, message, script.follow_up(message), script.follow_up_s),
            name=f"fake-po-follow-up-{worker.user_id}",
        )

    async def _follow_up(
        self, worker: Worker, message: POWorkerInput, follow_up: str, delay: float
    ) -> None:
        await asyncio.sleep(delay)
        state = self._state
        # Its own entry, answering no input: a new request id (``seed``), or none at all.
        own = msgspec.structs.replace(message, request_id=new_id())
        try:
            if state.profile == "worker-streams":
                payload = wrapper_output("content", follow_up, "")
                entry_id = await state.client().xadd(
                    output_stream(state.profile, worker.user_id),
                    {DATA_FIELD: msgspec.json.encode(payload)},
                )
                state.outputs.append(
                    SentOutput(worker.user_id, text(entry_id), own.request_id, follow_up, True)
                )
                await state.notify()
            else:
                script = state.script_for(worker.user_id)
                await self._write_output(worker, own, follow_up, True, script, [])
        except RedisError as exc:
            log.warning("fake_po_follow_up_lost", user_id=worker.user_id, error=type(exc).__name__)

    async def _lifecycle(
        self, worker: Worker, event: str, *, result: Any = None, error: str | None = None
    ) -> None:
        entry = lifecycle_event(worker.worker_id, event, result=result, error=error)
        await self._state.client().xadd(keys.WORKER_LIFECYCLE, entry)  # type: ignore[arg-type]
        self._state.lifecycle.append((worker.worker_id, event))
        await self._state.notify()


def _buttons(script: WorkerScript, message: POWorkerInput) -> dict[str, Any]:
    """The script's buttons, under a reply to a chat message only."""
    if script.buttons is None or message.type == "button":
        return {}
    return {"buttons": script.buttons}


async def _content(script: WorkerScript, pending: Pending) -> tuple[str, list[dict[str, str]]]:
    """The reply's text and files: what a message's files were; the demo's files; else the
    script's reply."""
    message = pending.message
    if pending.attachments or pending.unreadable:
        return await describe(pending.attachments, message.text, unreadable=pending.unreadable), []
    if message.type in (None, "message") and is_demo(message.text):
        return DEMO_TEXT, demo_attachments()
    return script.reply(message), []


def _files(files: list[dict[str, str]]) -> dict[str, Any]:
    """The output's ``attachments`` (CONTRACTS.md, "Bot extensions"), when there are files."""
    return {"attachments": files} if files else {}


def _apply_rewind(worker: Worker) -> bool:
    if worker.rewind_to is None:
        return False
    worker.cursor, worker.rewind_to = worker.rewind_to, None
    return True


def _give_back(worker: Worker, pending: Pending) -> None:
    # What was read but not answered goes back to the stream for the next worker.
    worker.rewind_to = pending.before
    while not worker.queue.empty():
        worker.queue.get_nowait()
