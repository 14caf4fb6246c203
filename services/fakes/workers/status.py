"""``worker:status:{worker_id}``, written and read as the worker-manager does.

Written as a hash (``status``, ``updated_at``) or, scripted, as the plain string
an old worker-manager wrote; read in either form. The fake has its own reader
rather than the relay's: a fake must not share the code it is there to test.
"""

from __future__ import annotations

from typing import Final

from redis.exceptions import ResponseError

from shared import keys
from shared.schemas import utc_now_iso

from .records import Worker
from .state import ManagerState

WAKE_STREAM: Final = "fakes:worker-manager:wake"
"""A private stream in the same multi-key XREAD: an entry there wakes the reader
at once when a worker starts, instead of after the block time."""


async def write_status(state: ManagerState, worker: Worker, status: str) -> None:
    """Write ``status`` in the worker's form, log it and wake the PO reader and waiters."""
    key = keys.worker_status(worker.worker_id)
    async with state.client().pipeline(transaction=True) as pipe:
        pipe.delete(key)  # the other form may be there from an earlier start
        if worker.plain_status:
            pipe.set(key, status)
        else:
            pipe.hset(key, mapping={"status": status, "updated_at": utc_now_iso()})
        # Wake the PO reader so a worker that just became RUNNING is read at once.
        pipe.xadd(WAKE_STREAM, {"worker_id": worker.worker_id}, maxlen=100)
        await pipe.execute()
    state.status_log.append((worker.worker_id, status))
    await state.notify()


async def read_statuses(state: ManagerState, worker_ids: list[str]) -> list[str | None]:
    """Each worker's status, read as a hash field or, failing that, a plain string."""
    redis = state.client()
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
