"""``telegram-bot sandbox`` as a command: help, configuration errors, a taken port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import run_cli
from tests.sandbox.running import descendants


def code_under_test() -> dict[str, str]:
    """The caller's PYTHONPATH, if set: the code under test wherever it is imported from."""
    return {k: v for k, v in os.environ.items() if k == "PYTHONPATH"}


def test_help_lists_the_sandbox_beside_the_processes() -> None:
    result = run_cli(["--help"], env={})
    assert result.returncode == 0
    assert "sandbox" in result.stdout


def test_the_sandbox_says_what_it_does_and_where_the_page_is() -> None:
    result = run_cli(["sandbox", "--help"], env=code_under_test())
    assert result.returncode == 0
    assert "telegram-bot sandbox" in result.stdout
    assert "SANDBOX_PORT" in result.stdout
    assert "SANDBOX_PO_CONTRACT" in result.stdout


def test_python_dash_m_runs_the_same_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "services.sandbox", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert "telegram-bot sandbox" in result.stdout


def test_a_malformed_port_stops_it_with_one_line_and_status_2() -> None:
    result = run_cli(["sandbox"], env={"SANDBOX_PORT": "http"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "telegram-bot sandbox: configuration error: SANDBOX_PORT: Expected `int`, got `str`"
    ]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("streams", "Invalid enum value 'streams'"),
    ],
)
def test_a_po_contract_it_cannot_run_stops_it_with_one_line_and_status_2(
    value: str, reason: str
) -> None:
    result = run_cli(["sandbox"], env={"SANDBOX_PO_CONTRACT": value, **code_under_test()})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"telegram-bot sandbox: configuration error: SANDBOX_PO_CONTRACT: {reason}"
    ]


def test_a_taken_port_is_explained_and_nothing_is_left_running(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("telegram-bot")), "sandbox"],
            env={**os.environ, "SANDBOX_PORT": str(port), "TMPDIR": str(tmp_path)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        _out, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert "SANDBOX_PORT" in err
    assert "Traceback" not in err
    assert descendants(process.pid) == []
    assert list(tmp_path.iterdir()) == []
