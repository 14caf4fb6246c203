"""Stopping on request: SIGTERM/SIGINT set an event, and waits that the event cuts short."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Coroutine, Iterable
from typing import TypeVar

from shared.log import get_logger

R = TypeVar("R")

log = get_logger(__name__)


def install_stop_signals(
    stop: asyncio.Event,
    signals: Iterable[signal.Signals] = (signal.SIGTERM, signal.SIGINT),
) -> None:
    """Set ``stop`` on SIGTERM/SIGINT, so loops finish what they hold and return."""
    loop = asyncio.get_running_loop()
    for sig in signals:
        loop.add_signal_handler(sig, _request_stop, stop, sig)


def _request_stop(stop: asyncio.Event, sig: signal.Signals) -> None:
    log.info("stop_requested", signal=sig.name)
    stop.set()


async def pause(stop: asyncio.Event, seconds: float | None) -> bool:
    """Sleep ``seconds`` (``None``: no limit), or less if ``stop`` is set; whether it is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


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


async def first_set(*events: asyncio.Event) -> None:
    """Return once any of ``events`` is set."""
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
