"""What the ``files`` process answers when Telegram cannot serve: too big, gone, refusing, down."""

from __future__ import annotations

from typing import Any

import aiohttp

from services.fakes.telegram import Failure, FakeTelegram, Params
from tests.services.files.conftest import FilesProcess, StartFiles, send_file

DOC = b"%PDF-1.7\n" + b"d" * 10_000


async def test_a_file_over_the_download_limit_gets_413(
    files: FilesProcess, fake_telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    fake_telegram.files.download_limit = 1000
    file_id = send_file(fake_telegram, DOC)

    async with http.get(files.link(file_id)) as response:
        assert response.status == 413
    assert fake_telegram.files.downloads == []


async def test_a_file_telegram_does_not_know_gets_404(
    files: FilesProcess, http: aiohttp.ClientSession
) -> None:
    async with http.get(files.link("AgACnever-sent")) as response:
        assert response.status == 404


async def test_a_file_gone_from_the_download_server_gets_404(
    files: FilesProcess, fake_telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    async def moved(fake: FakeTelegram, params: Params) -> Any:
        return {"file_id": params.string("file_id"), "file_unique_id": "AQADx",
                "file_size": 10, "file_path": "documents/file_404.pdf"}  # fmt: skip

    fake_telegram.add_method("getFile", moved)
    file_id = send_file(fake_telegram, DOC)

    async with http.get(files.link(file_id)) as response:
        assert response.status == 404


async def test_a_telegram_server_error_gets_502(
    files: FilesProcess, fake_telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    file_id = send_file(fake_telegram, DOC)
    fake_telegram.fail_next("getFile", Failure.server_error(502, html=True))

    async with http.get(files.link(file_id)) as response:
        assert response.status == 502


async def test_telegram_asking_to_wait_gets_503_with_retry_after(
    files: FilesProcess, fake_telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    file_id = send_file(fake_telegram, DOC)
    fake_telegram.fail_next("getFile", Failure.too_many_requests(7))

    async with http.get(files.link(file_id)) as response:
        assert response.status == 503
        assert response.headers["Retry-After"] == "7"


async def test_telegram_not_answering_in_time_gets_502(
    start_files: StartFiles, fake_telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    files = start_files(FILES_UPSTREAM_TIMEOUT_S="0.3")
    await files.process.wait_for_event("files_started", timeout=30)
    file_id = send_file(fake_telegram, DOC)
    fake_telegram.fail_next("getFile", Failure.slow(3))

    async with http.get(files.link(file_id)) as response:
        assert response.status == 502


async def test_telegram_down_gets_502_and_the_process_keeps_serving(
    files: FilesProcess, fake_telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    file_id = send_file(fake_telegram, DOC)
    port = fake_telegram.port
    await fake_telegram.stop()

    async with http.get(files.link(file_id)) as response:
        assert response.status == 502

    fake_telegram.port = port
    await fake_telegram.start()
    async with http.get(files.link(file_id)) as response:
        assert response.status == 200
        assert await response.read() == DOC


async def test_a_wrong_token_gets_502_and_is_logged_without_the_token(
    start_files: StartFiles, fake_telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    files = start_files(TELEGRAM_BOT_TOKEN="654321:wrong-token_xyz")
    await files.process.wait_for_event("files_started", timeout=30)
    file_id = send_file(fake_telegram, DOC)

    async with http.get(files.link(file_id)) as response:
        assert response.status == 502
        assert "wrong-token" not in await response.text()

    await files.process.wait_for_event("files_token_refused_by_telegram")
    assert "wrong-token_xyz" not in files.process.logs()


async def test_a_local_bot_api_servers_absolute_path_is_fetched_under_its_token(
    files: FilesProcess, fake_telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    file_id = send_file(fake_telegram, DOC)
    stored = fake_telegram.files.get(file_id)
    assert stored is not None
    root = f"/var/lib/telegram-bot-api/{fake_telegram.token}/"

    async def local(fake: FakeTelegram, params: Params) -> Any:
        return {"file_id": file_id, "file_unique_id": stored.file_unique_id,
                "file_size": stored.size, "file_path": root + stored.file_path}  # fmt: skip

    fake_telegram.add_method("getFile", local)

    async with http.get(files.link(file_id)) as response:
        assert response.status == 200
        assert await response.read() == DOC


async def test_head_answers_the_size_and_type_without_downloading(
    files: FilesProcess, fake_telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    file_id = send_file(fake_telegram, DOC)

    async with http.head(files.link(file_id)) as response:
        assert response.status == 200
        assert response.headers["Content-Length"] == str(len(DOC))
        assert response.headers["Content-Type"] == "application/pdf"
    assert fake_telegram.files.downloads == []
