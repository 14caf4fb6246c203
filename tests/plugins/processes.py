"""Fixtures that run the real services as subprocesses against the fakes.

``service_env`` is the environment wired to this test's fake Telegram, fake
API and Redis; ``start_service("relay")`` starts ``telegram-bot relay`` with
it (extra variables as keywords) and stops it at teardown (all at once, and
without blocking the fakes on the test's loop), failing the test if any
process wrote a secret to its log.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from services.fakes.api import FakeApi
from services.fakes.telegram import FakeTelegram
from tests.processes import ServiceProcess

INTERNAL_KEY = "internal-key-for-tests"

StartService = Callable[..., ServiceProcess]


@pytest.fixture
def service_env(fake_telegram: FakeTelegram, fake_api: FakeApi, redis_url: str) -> dict[str, str]:
    return {
        "TELEGRAM_BOT_TOKEN": fake_telegram.token,
        "TELEGRAM_API_URL": fake_telegram.url,
        "API_URL": fake_api.url,
        "INTERNAL_API_KEY": INTERNAL_KEY,
        "REDIS_URL": redis_url,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "POLLING_TIMEOUT_S": "1",
    }


@pytest.fixture
async def start_service(service_env: dict[str, str], tmp_path: Path) -> AsyncIterator[StartService]:
    started: list[ServiceProcess] = []

    def start(command: str, *, name: str = "", **extra_env: str) -> ServiceProcess:
        name = name or f"{command}-{len(started)}"
        process = ServiceProcess(command, {**service_env, **extra_env}, tmp_path, name=name)
        started.append(process.start())
        return process

    yield start
    await asyncio.gather(*(process.stop() for process in started))
    secrets = (service_env["TELEGRAM_BOT_TOKEN"], INTERNAL_KEY)
    for process in started:
        logs = process.logs()
        leaked = [s for s in secrets if s in logs]
        assert not leaked, f"{process.name} logged a secret:\n{logs}"
