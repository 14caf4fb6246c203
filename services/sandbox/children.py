"""The sandbox's child processes (redis-server, supervisord): started apart, stopped in order.

Each child runs in a session of its own, so a terminal's Ctrl-C reaches the
sandbox alone: it then stops supervisord first (the bot's processes finish
while Redis and the fakes still answer) and Redis last. On Linux a child is
also sent SIGTERM if the sandbox itself dies without cleaning up (SIGKILL),
so nothing is left running.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal

from shared.log import get_logger

log = get_logger(__name__)

_PR_SET_PDEATHSIG = 1
PIPE_LINE_LIMIT = 1 << 20
"""The longest line read from a child's pipe (asyncio's default is 64 KiB)."""


def _parent_death_signal() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to SIGTERM the child when the sandbox dies."""
    if not sys.platform.startswith("linux"):
        return None
    # Looked up here, in the parent: the child only makes one C call before exec.
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    prctl = libc.prctl
    sandbox = os.getpid()

    def set_pdeathsig() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != sandbox:  # it died before the call: no signal would come
            os._exit(1)

    return set_pdeathsig


Output = Literal["discard", "pipe"]


async def spawn(
    argv: Sequence[str],
    *,
    output: Output,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> asyncio.subprocess.Process:
    """Start ``argv`` in its own session; its stdout and stderr discarded, or one pipe."""
    # The parent-death signal is tied to the thread that forks: spawn from the
    # event loop's thread, which lives as long as the sandbox.
    return await asyncio.create_subprocess_exec(
        *argv,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL if output == "discard" else subprocess.PIPE,
        stderr=subprocess.DEVNULL if output == "discard" else subprocess.STDOUT,
        start_new_session=True,
        limit=PIPE_LINE_LIMIT,
        # preexec_fn is unsafe beside threads in general; this one makes one C call, looked up
        # in the parent, before exec.
        preexec_fn=_parent_death_signal(),
    )


async def stop(process: asyncio.subprocess.Process, name: str, timeout: float) -> int:
    """SIGTERM, wait up to ``timeout`` s, then SIGKILL its whole process group."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            log.warning("child_killed", child=name, after_s=timeout)
            # Its own session: the group holds it and anything it started.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
    return process.returncode if process.returncode is not None else -1
