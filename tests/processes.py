"""Real service processes for end-to-end tests: ``telegram-bot <command>`` as a subprocess.

Each process logs JSON to a file of its own, so a test can wait for an
event in it and a failing test shows what the process said.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

# The installed console script, exactly as operators run it.
CLI = [str(Path(sys.executable).with_name("telegram-bot"))]
EXIT_TIMEOUT_S = 10.0


class ServiceProcess:
    """One ``telegram-bot <command>`` process, with its log captured to a file."""

    def __init__(self, command: str, env: Mapping[str, str], log_dir: Path, name: str = "") -> None:
        self.command = command
        self.name = name or command
        self.env = dict(env)
        self.log_path = log_dir / f"{self.name}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ServiceProcess:
        env = {**os.environ, **self.env}
        env.pop("PYTEST_CURRENT_TEST", None)
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [*CLI, self.command], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        return self

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def kill(self) -> None:
        """SIGKILL: the process dies wherever it is, as in a crash.

        The wait is only the kernel's reaping, never the process's own work,
        so it cannot block an event loop for long.
        """
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    async def stop(
        self, timeout: float = EXIT_TIMEOUT_S, sig: signal.Signals = signal.SIGTERM
    ) -> int:
        """Send ``sig`` (SIGTERM), wait; SIGKILL if it does not stop in time. The exit code.

        The wait runs in a thread, so this test's event loop keeps going: a
        process stopping may need the fakes that run on it (a notifier
        finishes the result in hand, sending to the fake Telegram), and a
        blocked loop would make every such stop wait out ``timeout``.
        """
        return await asyncio.to_thread(self._stop, timeout, sig)

    def _stop(self, timeout: float, sig: signal.Signals) -> int:
        assert self._proc is not None
        if self._proc.poll() is None:
            self._proc.send_signal(sig)
            try:
                self._proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        return self._proc.returncode

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def events(self) -> Iterator[dict[str, Any]]:
        for line in self.logs().splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                yield event

    async def wait_for_event(
        self,
        name: str,
        predicate: Callable[[dict[str, Any]], bool] = lambda _e: True,
        timeout: float = 15.0,
    ) -> dict[str, Any]:
        """Wait until the process logged event ``name`` (matching ``predicate``).

        A log file has no change notification we can await portably, so this
        re-reads it on a short interval, bounded by ``timeout``.
        """
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events():
                if event.get("event") == name and predicate(event):
                    return event
            if self.returncode is not None:
                raise AssertionError(f"{self.name} exited {self.returncode}:\n{self.logs()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} never logged {name!r}:\n{self.logs()}")
            await asyncio.sleep(0.05)


def run_cli(
    args: list[str], env: Mapping[str, str], timeout: float = 30.0
) -> subprocess.CompletedProcess[str]:
    """Run ``telegram-bot ARGS`` to completion with exactly ``env`` (plus PATH)."""
    return subprocess.run(
        [*CLI, *args],
        env={"PATH": os.environ.get("PATH", ""), **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
