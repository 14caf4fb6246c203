"""The processes the relay benchmark starts: the echo PO, the fake Telegram, relays, the ingress.

Each in a process of its own, so that their work does not queue the bench's
(which times them) nor each other's; the bot's are real ``telegram-bot``
processes, whose CPU and RSS the bench reads from ``/proc``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from bench.timeline import Timeline
from services.fakes.redis_server import free_port, stop_process
from shared import keys

CLI = str(Path(sys.executable).with_name("telegram-bot"))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def start_po(url: str, users: list[int], profile: str = "seed") -> subprocess.Popen[bytes]:
    """The echo PO of ``profile`` for ``users`` only: real POs each block on their own input
    stream, and one read over thousands of streams would cost Redis milliseconds per wake-up."""
    ids = ",".join(map(str, users))
    return _popen([sys.executable, "-m", "bench.echo_po", url, ids, profile])


def _popen(command: list[str]) -> subprocess.Popen[bytes]:
    # Popen returns at once (it does not wait for the child): fine inside the loop.
    return subprocess.Popen(command, stdout=subprocess.DEVNULL)


class FakeTelegramProcess:
    """The fake Telegram in a process of its own, so its work does not queue the bench's."""

    def __init__(self) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        self._process: subprocess.Popen[bytes] | None = None
        self._http: aiohttp.ClientSession | None = None
        self._seen = 0

    async def start(self) -> None:
        port = self.url.rsplit(":", 1)[1]
        self._process = _popen([sys.executable, "-m", "services.fakes.telegram", "--port", port])
        self._http = aiohttp.ClientSession()
        async with asyncio.timeout(30):
            while True:
                with contextlib.suppress(aiohttp.ClientError):
                    async with self._http.post(f"{self.url}/_fake/flood", json={"off": True}) as r:
                        if r.status == 200:
                            return
                await asyncio.sleep(0.1)

    async def post_message(self, chat_id: int, text: str) -> None:
        """A user's message, as Telegram would queue it for the bot's getUpdates."""
        assert self._http is not None
        url = f"{self.url}/_fake/chats/{chat_id}/messages"
        async with self._http.post(url, json={"text": text}) as response:
            response.raise_for_status()

    async def collect(self, timeline: Timeline) -> None:
        """When each sendMessage since the last collect reached the fake (its ``started``)."""
        assert self._http is not None
        query = {"method": "sendMessage", "since": str(self._seen)}
        async with self._http.get(f"{self.url}/_fake/calls", params=query) as response:
            calls = (await response.json())["result"]
        for call in calls:
            self._seen = max(self._seen, int(call["seq"]))
            if call["status"] == 200:
                timeline.received.setdefault(call["params"]["text"], float(call["started"]))

    async def wait_received(self, timeline: Timeline, texts: list[str], timeout: float) -> None:
        pending = list(texts)
        async with asyncio.timeout(timeout):
            while True:
                await self.collect(timeline)
                pending = [text for text in pending if text not in timeline.received]
                if not pending:
                    return
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)


# --- the bot's processes (relays, the ingress) ------------------------------------------


@dataclass
class ChildProcess:
    """A ``telegram-bot`` process the bench started: its pid (CPU, RSS) and log."""

    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        utime, stime = int(fields[11]), int(fields[12])
        return (utime + stime) / CLOCK_TICKS

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def stop(self) -> None:
        stop_process(self.process, timeout=15)


def start_relay(env: dict[str, str], name: str, log_dir: Path) -> ChildProcess:
    return _start_bot("relay", {**env, "RELAY_NAME": name}, log_dir / f"{name}.log")


def start_ingress(env: dict[str, str], log_dir: Path) -> ChildProcess:
    """``telegram-bot ingress`` (polling), its output in ``log_dir``."""
    return _start_bot("ingress", env, log_dir / "bench-ingress.log")


def _start_bot(command: str, env: dict[str, str], log: Path) -> ChildProcess:
    """``telegram-bot {command}`` with ``env`` over this process's, its output in ``log``."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [CLI, command], env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
    return ChildProcess(process, log)


async def wait_for_leases(redis: aioredis.Redis, relays: int, timeout: float = 90) -> None:
    """Until every partition is held, shared evenly by ``relays`` relays (no handover left)."""
    async with asyncio.timeout(timeout):
        while True:
            values: list[Any] = await redis.mget([f"bot:lease:{p}" for p in range(keys.PARTITIONS)])
            shares = collections.Counter(values)
            if (
                None not in shares
                and len(shares) == relays
                and max(shares.values()) - min(shares.values()) <= 1
            ):
                return
            await asyncio.sleep(0.1)
