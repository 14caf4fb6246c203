"""The real ``telegram-bot files`` process against the fake Telegram, and links to its files."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import aiohttp
import pytest

from services.fakes.redis_server import free_port
from services.fakes.telegram import FakeTelegram
from shared.file_links import link
from tests.plugins.processes import StartService
from tests.processes import ServiceProcess

SIGNING_KEY = "files-signing-key-for-tests-0123456789abcdef"
KEY = SIGNING_KEY.encode()
LINK_TTL_S = 3600


@dataclass
class FilesProcess:
    process: ServiceProcess
    url: str
    metrics_url: str

    def link(self, file_id: str, *, expires_at: int | None = None) -> str:
        """A link as the ingress makes it (``FILES_PUBLIC_URL`` is this process)."""
        expires = expires_at if expires_at is not None else int(time.time()) + LINK_TTL_S
        return link(self.url, KEY, file_id, expires_at=expires)


StartFiles = Callable[..., FilesProcess]


@pytest.fixture
async def start_files(start_service: StartService) -> AsyncIterator[StartFiles]:
    """``start_files(**env)``: a started ``files`` process; its log must hold no secret."""
    started: list[FilesProcess] = []

    def start(**extra_env: str) -> FilesProcess:
        port, metrics_port = free_port(), free_port()
        process = start_service(
            "files",
            FILES_SIGNING_KEY=SIGNING_KEY,
            FILES_LISTEN=f"127.0.0.1:{port}",
            METRICS_PORT=str(metrics_port),
            **extra_env,
        )
        files = FilesProcess(
            process, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}"
        )
        started.append(files)
        return files

    yield start
    for files in started:
        await files.process.stop()  # its last lines written
        assert SIGNING_KEY not in files.process.logs(), "the files process logged its key"


@pytest.fixture
async def files(start_files: StartFiles) -> FilesProcess:
    process = start_files()
    await process.process.wait_for_event("files_started", timeout=30)
    return process


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def send_file(
    fake: FakeTelegram,
    content: bytes,
    *,
    kind: str = "document",
    file_name: str | None = "spec.pdf",
) -> str:
    """A user sends ``content``; the id of the file the bot would link to."""
    update = fake.inject_media(100, kind, content, file_name=file_name)
    media = update["message"][kind]
    file_id: str = (media[-1] if kind == "photo" else media)["file_id"]
    return file_id
