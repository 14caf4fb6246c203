"""The fake worker-manager: starts its consumer and PO reader, and stops them fast.

Tests and the sandbox drive it through the helpers here (``set_status``,
``create``, ``send``...) and the scripts and record in :mod:`.state`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from services.fakes.lifecycle import StartStop
from shared import keys
from shared.attachments import Attachment
from shared.log import get_logger
from shared.schemas import (
    DATA_FIELD,
    CreateWorkerCommand,
    POWorkerInput,
    WorkerConfig,
    encode_entry,
    new_id,
)

from .commands import CommandConsumer
from .po import PoWorkers
from .state import ManagerState
from .status import read_statuses, write_status
from .wire import Profile, input_stream

log = get_logger(__name__)


class FakeWorkerManager(ManagerState, StartStop):
    """The worker-manager's stand-in; see the package doc. ``async with FakeWorkerManager(url)``."""

    def __init__(
        self,
        redis_url: str,
        *,
        group: str = "worker-manager",
        consumer: str = "fake-worker-manager",
        block_ms: int = 500,
        profile: Profile = "seed",
    ) -> None:
        super().__init__(
            redis_url, group=group, consumer=consumer, block_ms=block_ms, profile=profile
        )
        self._po = PoWorkers(self)
        self._commands = CommandConsumer(self, self._po)
        self._tasks: list[asyncio.Task[None]] = []

    # --- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        self.stopping = False
        # A blocking read must outlive its BLOCK: redis-py 8 defaults socket_timeout to 5 s.
        self._redis = aioredis.Redis.from_url(
            self.redis_url, socket_timeout=self.block_ms / 1000 + 10
        )
        await self._commands.ensure_group()
        self._tasks = [
            asyncio.create_task(self._keep_running(self._commands.round), name="fake-wm-commands"),
            asyncio.create_task(self._keep_running(self._po.input_round), name="fake-wm-po-reader"),
        ]

    async def stop(self) -> None:
        self.stopping = True
        tasks = [*self._tasks]
        for worker in self._po.workers.values():
            tasks += [
                task for task in (worker.lifecycle, worker.po, worker.follow_up) if task is not None
            ]
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
        error, and the loops, seeing ``stopping``, return.
        """
        pending = set(tasks)
        for _attempt in range(50):
            if self._redis is not None:
                await self._redis.aclose()
            if not pending:
                return
            _done, pending = await asyncio.wait(pending, timeout=0.05)
        log.warning("fake_worker_manager_tasks_left", tasks=[t.get_name() for t in pending])

    async def _keep_running(self, round_: Callable[[], Awaitable[None]]) -> None:
        """Run ``round_`` until stopped; a Redis outage (a restart, say) pauses it, no more."""
        while not self.stopping:
            try:
                await round_()
            except RedisError as exc:
                if self.stopping:
                    return
                log.warning("fake_worker_manager_redis_error", error=type(exc).__name__)
                await asyncio.sleep(0.2)  # Redis is away: try again shortly
                with contextlib.suppress(RedisError):
                    # A restarted (or flushed) Redis has lost the group.
                    await self._commands.ensure_group()
            except Exception:
                # A bug in the fake: say so loudly, but keep the other side of the test alive.
                log.exception("fake_worker_manager_failed")
                await asyncio.sleep(0.2)

    # --- helpers for tests and the sandbox ----------------------------------------

    async def set_status(self, user_id: int, status: str) -> None:
        """Write a worker's status as the worker-manager would (``STOPPED``, ``RUNNING``...)."""
        worker = self._po.worker(user_id, keys.po_worker_id(user_id))
        await write_status(self, worker, status)

    async def status(self, user_id: int) -> str | None:
        """The status in Redis of ``po-{user_id}``, hash or plain string."""
        return (await read_statuses(self, [keys.po_worker_id(user_id)]))[0]

    async def create(self, user_id: int, telegram_id: int = 0) -> CreateWorkerCommand:
        """Write a create command for ``user_id``, as the bot would."""
        command = CreateWorkerCommand(
            config=WorkerConfig(
                name=keys.po_worker_id(user_id), env_vars={"USER_ID": str(user_id)}
            ),
            context={"role": "product_owner", "user_telegram_id": str(telegram_id)},
        )
        await self.client().xadd(keys.WORKER_COMMANDS, encode_entry(command))  # type: ignore[arg-type]
        return command

    async def send(
        self,
        user_id: int,
        text: str,
        *,
        telegram_id: int = 0,
        chat_id: int = 0,
        attachments: Sequence[Attachment | dict[str, Any]] = (),
    ) -> POWorkerInput:
        """Write a message on the user's PO input stream, as the bot would in the profile;
        ``attachments`` go beside the text (CONTRACTS.md, "Bot extensions")."""
        message = POWorkerInput(
            request_id=new_id(),
            user_id=user_id,
            telegram_id=telegram_id,
            chat_id=chat_id,
            text=text,
        )
        stream = input_stream(self.profile, user_id)
        fields = msgspec.to_builtins(message)
        if attachments:
            fields["attachments"] = msgspec.to_builtins(list(attachments))
        if self.profile == "worker-streams":
            fields["content"] = fields.pop("text")
        entry = {DATA_FIELD: msgspec.json.encode(fields)}
        await self.client().xadd(stream, entry)  # type: ignore[arg-type]
        return message
