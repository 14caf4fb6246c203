"""Waits that a stop request (SIGTERM) cuts short: one helper for every loop that needs it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine
from typing import TypeVar

R = TypeVar("R")


class Stopped(Exception):
    """``stop`` was set before the work finished; the work was cancelled."""


async def until_stopped(stop: asyncio.Event, work: Awaitable[R]) -> R:
    """Await ``work``, or cancel it and raise :class:`Stopped` once ``stop`` is set.

    Only for work that may be abandoned safely: a read whose entries stay
    pending, a ``getUpdates`` that confirms nothing, a start-up call. The
    work's own error, if it finishes first, is raised as is.
    """
    if stop.is_set():
        if isinstance(work, Coroutine):
            work.close()  # never awaited: close it so Python does not warn
        raise Stopped
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not task.done():
            task.cancel()
            # Waited for, so a cancelled Redis command has dropped its connection.
            await asyncio.wait({task})
    if task.cancelled():
        raise Stopped
    return task.result()
