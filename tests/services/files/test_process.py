"""The ``telegram-bot files`` command: refuses to start without its key, stops on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.processes import run_cli
from tests.services.files.conftest import SIGNING_KEY, StartFiles

TOKEN = "123456:TEST-token_abc"
# The code under test, wherever it is checked out (run_cli passes only PATH on).
SOURCE = {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}


def test_without_a_signing_key_it_refuses_to_start_in_one_line() -> None:
    result = run_cli(["files"], env={**SOURCE, "TELEGRAM_BOT_TOKEN": TOKEN})

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "telegram-bot files: configuration error: FILES_SIGNING_KEY: "
        "required but not set (the files process checks links with it)"
    ]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("FILES_SIGNING_KEY", "too-short", "FILES_SIGNING_KEY: must be at least 32 bytes"),
        ("FILES_LISTEN", "8081", "FILES_LISTEN: expected host:port, such as 0.0.0.0:8081"),
        ("FILES_UPSTREAM_TIMEOUT_S", "0", "FILES_UPSTREAM_TIMEOUT_S: must be positive"),
    ],
)
def test_a_bad_value_is_named_in_one_line_without_showing_it(
    variable: str, value: str, message: str
) -> None:
    env = {**SOURCE, "TELEGRAM_BOT_TOKEN": TOKEN, "FILES_SIGNING_KEY": SIGNING_KEY, variable: value}

    result = run_cli(["files"], env=env)

    assert result.returncode == 2
    assert result.stderr.strip() == f"telegram-bot files: configuration error: {message}"
    assert SIGNING_KEY not in result.stderr


def test_help_says_what_it_serves() -> None:
    result = run_cli(["files", "--help"], env=SOURCE)

    assert result.returncode == 0
    assert "FILES_SIGNING_KEY" in result.stdout
    assert "environment variables" in result.stdout


def test_the_app_does_not_import_aiogram() -> None:
    check = (
        "import sys, services.files.app\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'aiogram')\n"
        "assert not loaded, loaded[:5]\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_stop_signal_stops_it_with_status_0_within_seconds(
    start_files: StartFiles, sig: signal.Signals
) -> None:
    files = start_files()
    await files.process.wait_for_event("files_started", timeout=30)

    began = time.monotonic()
    code = await files.process.stop(timeout=10, sig=sig)

    assert code == 0, files.process.logs()
    assert time.monotonic() - began < 5
    assert any(e.get("event") == "files_stopped" for e in files.process.events())


def test_a_taken_port_stops_it_with_status_4_and_says_which() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            **SOURCE,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "FILES_SIGNING_KEY": SIGNING_KEY,
            "FILES_LISTEN": f"127.0.0.1:{port}",
        }
        result = run_cli(["files"], env=env)

    assert result.returncode == 4
    events = [json.loads(line) for line in result.stderr.splitlines()]
    (error,) = [e for e in events if e["level"] == "error"]
    assert (error["event"], error["port"]) == ("files_port_unavailable", port)
