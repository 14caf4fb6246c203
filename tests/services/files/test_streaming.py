"""Big files go through in pieces: the process never holds one whole, and counts what it sent."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.fakes.telegram import FakeTelegram
from shared.attachments import CLOUD_DOWNLOAD_LIMIT
from tests.services.files.conftest import FilesProcess, send_file

MB = 1024 * 1024


def rss_kib(pid: int, field: str) -> int:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of a process, KiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


async def test_a_25_mb_file_streams_whole_while_the_process_grows_by_far_less(
    files: FilesProcess, fake_telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    fake_telegram.files.download_limit = 100 * MB  # a self-hosted Bot API server
    content = os.urandom(25 * MB)
    file_id = send_file(fake_telegram, content)
    assert len(content) > CLOUD_DOWNLOAD_LIMIT
    # Warm up (first request's imports and buffers), then take the baseline.
    async with http.head(files.link(file_id)) as response:
        assert response.status == 200
    before = rss_kib(files.process.pid, "VmRSS")

    digest, size = hashlib.sha256(), 0
    async with http.get(files.link(file_id)) as response:
        assert response.content_length == len(content)
        async for chunk in response.content.iter_chunked(256 * 1024):
            digest.update(chunk)
            size += len(chunk)

    assert (size, digest.digest()) == (len(content), hashlib.sha256(content).digest())
    growth_mib = (rss_kib(files.process.pid, "VmHWM") - before) / 1024
    assert growth_mib < 12, f"grew {growth_mib:.1f} MiB while streaming 25 MiB"


async def test_a_client_leaving_mid_stream_is_counted_and_the_next_one_served(
    files: FilesProcess, fake_telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    fake_telegram.files.download_limit = 100 * MB
    content = os.urandom(20 * MB)
    file_id = send_file(fake_telegram, content)

    async with aiohttp.ClientSession() as leaving, leaving.get(files.link(file_id)) as response:
        await response.content.readexactly(64 * 1024)
        response.close()  # gone, 64 KiB in
    await files.process.wait_for_event("file_client_gone")

    async with http.get(files.link(file_id)) as response:
        assert await response.read() == content


def metric(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                return sample.value
    raise AssertionError(f"no {name} {labels}")


async def test_metrics_count_requests_by_result_and_the_bytes_sent(
    files: FilesProcess, fake_telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    file_id = send_file(fake_telegram, b"%PDF" + b"m" * 5000)
    for url in (files.link(file_id), files.link(file_id) + "x", files.link("AgACnone")):
        async with http.get(url) as response:
            await response.read()

    async with http.get(files.metrics_url + "/metrics") as response:
        text = await response.text()
    assert token_free(text, fake_telegram.token)
    served = "telegram_bot_files_requests_total"
    assert metric(text, served, service="files", result="served") == 1
    assert metric(text, served, service="files", result="forbidden") == 1
    assert metric(text, served, service="files", result="not_found") == 1
    assert metric(text, "telegram_bot_files_bytes_total", service="files") == 5004


def token_free(text: str, token: str) -> bool:
    return token not in text and token.partition(":")[2] not in text


async def test_healthz_is_200_while_serving(
    files: FilesProcess, http: aiohttp.ClientSession
) -> None:
    async with http.get(files.metrics_url + "/healthz") as response:
        assert response.status == 200
        assert (await response.json())["checks"] == {"listening": "ok"}


async def test_a_download_telegram_breaks_mid_way_reaches_the_client_cut_short(
    files: FilesProcess, fake_telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    content = os.urandom(2 * MB)
    file_id = send_file(fake_telegram, content)
    fake_telegram.files.cut_downloads_at = MB

    async with http.get(files.link(file_id)) as response:
        assert response.status == 200
        assert response.content_length == len(content)
        # Never a whole-looking body, and no wait for bytes that will not come.
        with pytest.raises(aiohttp.ClientPayloadError):
            async with asyncio.timeout(10):
                await response.read()
    await files.process.wait_for_event("file_upstream_broke")
