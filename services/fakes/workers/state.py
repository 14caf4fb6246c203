"""What the fake worker-manager's parts share: settings, scripts, Redis, and the record.

The record (``commands``, ``outputs``, ``status_log``...) is what tests assert on;
every change to it wakes ``wait_for``, after the change is visible in Redis.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from shared.log import get_logger
from shared.schemas import (
    CreateWorkerCommand,
    DeleteWorkerCommand,
    POWorkerInput,
    WorkerResponse,
)

from .records import RejectedEntry, SentOutput
from .script import WorkerScript
from .wire import Profile

log = get_logger(__name__)


class ManagerState:
    """Settings, scripts, the Redis client and the record of a ``FakeWorkerManager``."""

    def __init__(
        self, redis_url: str, *, group: str, consumer: str, block_ms: int, profile: Profile
    ) -> None:
        self.redis_url = redis_url
        self.profile: Profile = profile
        """The PO contract profile the POs speak (``.wire``)."""
        self.group = group
        self.consumer = consumer
        self.block_ms = block_ms
        self.default_script = WorkerScript()
        self.scripts: dict[int, WorkerScript] = {}

        self.commands: list[CreateWorkerCommand] = []
        self.deletes: list[DeleteWorkerCommand] = []
        self.cancels: list[POWorkerInput] = []
        """``cancel`` input entries the POs read (``/stop``), in order."""
        self.buttons: list[POWorkerInput] = []
        """``button`` input entries the POs read (presses of their buttons), in order; the PO
        also answers each, like a message (it shows up in ``inputs`` too)."""
        self.rejected: list[RejectedEntry] = []
        self.responses: list[WorkerResponse] = []
        self.inputs: list[POWorkerInput] = []
        """Inputs a RUNNING PO took up to answer, in order."""
        self.outputs: list[SentOutput] = []
        self.lifecycle: list[tuple[str, str]] = []
        """``worker-streams``: every ``(worker_id, event)`` written on ``worker:lifecycle``."""
        self.status_log: list[tuple[str, str]] = []
        """Every ``(worker_id, status)`` the fake wrote, in order."""
        self.read_calls = 0
        """Blocking XREADs the PO side started: one per round, whatever the number of
        workers. When it reaches ``n + 2``, round ``n + 1`` has been read and dispatched."""
        self.max_streams_per_read = 0
        """The most PO input streams one XREAD covered."""
        self.start_write_failures = 0
        """Writes of a start (status, response) that failed on a Redis error and were retried."""

        self.stopping = False
        self._redis: aioredis.Redis | None = None
        self._changed = asyncio.Condition()

    # --- scripts ---------------------------------------------------------------

    def script(self, user_id: int, **changes: Any) -> WorkerScript:
        """Give ``user_id``'s worker its own script: the default with ``changes``."""
        script = dataclasses.replace(self.default_script, **changes)
        self.scripts[user_id] = script
        return script

    def script_for(self, user_id: int) -> WorkerScript:
        return self.scripts.get(user_id, self.default_script)

    # --- the record ------------------------------------------------------------

    def outputs_for(self, request_id: str) -> list[SentOutput]:
        return [output for output in self.outputs if output.request_id == request_id]

    async def wait_for(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        """Return once ``predicate()`` holds, re-checked after every change the fake makes.

        Changes are visible in Redis before waiters are woken. ``TimeoutError``
        after ``within`` seconds, so a test that waits in vain fails fast.
        """
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(predicate)

    async def notify(self) -> None:
        """Wake ``wait_for``: call after every change to the record."""
        async with self._changed:
            self._changed.notify_all()

    async def reject(
        self, stream: str, entry_id: str, fields: dict[bytes, bytes], reason: str
    ) -> None:
        """Record an entry the fake cannot use; it is skipped, never fatal."""
        log.warning("fake_worker_manager_rejected", stream=stream, entry_id=entry_id, reason=reason)
        readable = {
            k.decode(errors="replace"): v.decode(errors="replace") for k, v in fields.items()
        }
        self.rejected.append(RejectedEntry(stream, entry_id, readable, reason))
        await self.notify()

    # --- Redis -------------------------------------------------------------------

    def client(self) -> aioredis.Redis:
        if self._redis is None:
            raise RuntimeError("FakeWorkerManager is not started")
        return self._redis
