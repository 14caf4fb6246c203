"""The ``telegram-bot`` command: subcommands, help, and configuration errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.processes import run_cli

COMMANDS = ["ingress", "relay", "notifier"]


def test_help_lists_every_subcommand() -> None:
    result = run_cli(["--help"], env={})
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_each_subcommand_says_what_it_does(command: str) -> None:
    result = run_cli([command, "--help"], env={})
    assert result.returncode == 0
    assert f"telegram-bot {command}" in result.stdout
    assert "environment variables" in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_python_dash_m_runs_the_same_command(command: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", f"services.{command}", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert f"telegram-bot {command}" in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_a_missing_token_stops_the_process_with_one_line_and_status_2(command: str) -> None:
    result = run_cli([command], env={})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"telegram-bot {command}: configuration error: TELEGRAM_BOT_TOKEN: required but not set"
    ]


@pytest.mark.parametrize("command", COMMANDS)
def test_a_malformed_variable_is_named_without_a_traceback(command: str) -> None:
    env = {"TELEGRAM_BOT_TOKEN": "123:abc", "ADMIN_TELEGRAM_IDS": "1,two"}
    result = run_cli([command], env=env)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "ADMIN_TELEGRAM_IDS" in line
    assert "Traceback" not in result.stderr


def test_an_unknown_subcommand_is_a_usage_error() -> None:
    result = run_cli(["sandboxx"], env={})
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


BAD_VALUES = [
    *((command, "TELEGRAM_RATE_GLOBAL_PER_S", "0") for command in COMMANDS),
    *((command, "TELEGRAM_RATE_GLOBAL_PER_S", "nan") for command in COMMANDS),
    *((command, "TELEGRAM_RATE_CHAT_PER_S", "-1") for command in COMMANDS),
    ("relay", "LEASE_TTL_S", "inf"),
    ("relay", "PO_CONTRACT", "streams"),
    ("notifier", "NOTIFIER_RETRY_AFTER_S", "0"),
    ("notifier", "NOTIFIER_RETRY_AFTER_S", "-3"),
    ("notifier", "API_TIMEOUT_S", "-1"),
    ("notifier", "ADMINS_CACHE_S", "-1"),
]


@pytest.mark.parametrize(("command", "variable", "value"), BAD_VALUES)
def test_a_value_out_of_range_is_named_without_a_traceback(
    command: str, variable: str, value: str
) -> None:
    result = run_cli([command], env={"TELEGRAM_BOT_TOKEN": "123:abc", variable: value})
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"{variable}: ") or f" {variable}: " in line
    assert "Traceback" not in result.stderr
