"""The notifier tests' ``start_service``: the plugin's, stopped without blocking the fakes.

The plugin's teardown stops each process with a blocking ``terminate()``. A
notifier stopping mid-result finishes it first, sending to the fake
Telegram, which runs on this test's event loop: blocked, it cannot answer,
and each such teardown would wait out the 10 s before SIGKILL. Here every
process is stopped in a thread first, the loop still running.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.plugins.processes import StartService
from tests.processes import ServiceProcess


@pytest.fixture
async def start_service(start_service: StartService) -> AsyncIterator[StartService]:
    started: list[ServiceProcess] = []

    def start(command: str, **kwargs: Any) -> ServiceProcess:
        process = start_service(command, **kwargs)
        started.append(process)
        return process

    yield start
    await asyncio.gather(*(asyncio.to_thread(process.terminate) for process in started))
