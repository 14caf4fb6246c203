"""``telegram-bot sandbox`` as a subprocess, and the processes it leaves (or must not leave).

The output is read by a thread as it comes, so a test waits for a line (an
event) instead of polling a file, and a failing test shows everything the
sandbox and its processes said.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.processes import CLI


@dataclass(frozen=True)
class Proc:
    """A process as /proc shows it; ``started`` tells a reused pid from the same process."""

    pid: int
    started: int
    command: str

    def alive(self) -> bool:
        now = _read_proc(self.pid)
        return now is not None and now.started == self.started


def _read_proc(pid: int) -> Proc | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return None
    # Fields after the command name (which may hold spaces) start at field 3;
    # starttime is field 22.
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":
        return None  # a zombie has exited; only its parent's wait is missing
    return Proc(pid, int(fields[19]), command.decode(errors="replace").strip())


def descendants(root: int) -> list[Proc]:
    """Every live process whose parent chain leads to ``root``."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        children[int(stat.rsplit(")", 1)[1].split()[1])].append(int(entry.name))
    found: list[Proc] = []
    pending = list(children[root])
    while pending:
        pid = pending.pop()
        proc = _read_proc(pid)
        if proc is not None:
            found.append(proc)
        pending += children[pid]
    return found


class Sandbox:
    """One running ``telegram-bot sandbox``; ``url`` once its banner has been printed."""

    def __init__(self, port: int, env: Mapping[str, str], tmpdir: Path) -> None:
        """``tmpdir`` is the sandbox's TMPDIR: empty again once it has stopped."""
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.tmpdir = tmpdir
        self._lines: list[str] = []
        self._changed = threading.Condition()
        self._process = subprocess.Popen(
            [*CLI, "sandbox"],
            env={**env, "SANDBOX_PORT": str(port), "TMPDIR": str(tmpdir)},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self._reader = threading.Thread(target=self._read, name="sandbox-output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for raw in self._process.stdout:
            with self._changed:
                self._lines.append(raw.decode(errors="replace").rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.poll()

    def output(self) -> str:
        with self._changed:
            return "\n".join(self._lines)

    def wait_for_line(self, pattern: str, timeout: float) -> str:
        """The first output line matching ``pattern``; AssertionError with the output if none."""
        regex = re.compile(pattern)

        def found() -> str | None:
            return next((line for line in self._lines if regex.search(line)), None)

        with self._changed:
            self._changed.wait_for(
                lambda: found() is not None or not self._reader.is_alive(), timeout
            )
            line = found()
        if line is None:
            raise AssertionError(f"the sandbox never printed {pattern!r}:\n{self.output()}")
        return line

    def interrupt(self, timeout: float) -> int:
        """SIGINT, as Ctrl-C sends; the exit status (AssertionError if it does not exit)."""
        self._process.send_signal(signal.SIGINT)
        try:
            code = self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"the sandbox did not stop within {timeout} s:\n{self.output()}"
            ) from None
        self._reader.join(timeout)
        return code

    def kill(self) -> None:
        """For teardown: whatever state it is in, it and its children end."""
        if self._process.poll() is None:
            for proc in descendants(self.pid):
                _signal(proc.pid, signal.SIGKILL)
            self._process.kill()
            self._process.wait()
        self._reader.join(5)  # its end of the pipe closed with the sandbox
        if self._process.stdout is not None:
            self._process.stdout.close()


def _signal(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)
