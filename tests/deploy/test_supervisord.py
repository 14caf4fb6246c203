"""deploy/supervisord.conf (one host, no Docker) agrees with the code and with the sandbox.

supervisord's own parser reads the files, so what is checked is what
supervisord would run.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from supervisor.options import ServerOptions

from services.cli import COMMANDS
from services.sandbox.supervisor import render_config
from tests.deploy.settings_names import read_by

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "supervisord.conf"
RUNTIME_DIR = "/run/telegram-bot"
REQUIRED = {
    "TELEGRAM_BOT_TOKEN": "123456:secret",
    "API_URL": "http://api:8000",
    "REDIS_URL": "redis://localhost:6379/0",
    "FILES_SIGNING_KEY": "a-files-signing-key-of-32-bytes-or-more",
}
SANDBOX_MAY_LEAVE_OUT = {"files"}
"""Production programs the sandbox need not run (it may give its PO users' files another
way than the ``files`` process); when it runs one, it runs it as production does."""


class Rejected(Exception):
    """supervisord would not start with this config; the message is its own."""


def parse(path: Path) -> list[Any]:
    """The process configs supervisord makes of ``path``; ``Rejected`` when it would refuse."""
    options = ServerOptions()
    options.stderr = io.StringIO()  # where it writes its error before exiting
    try:
        options.realize(args=["-c", str(path)])
    except SystemExit:
        raise Rejected(options.stderr.getvalue()) from None
    return [process for group in options.process_group_configs for process in group.process_configs]


@pytest.fixture
def deploy_config(tmp_path: Path) -> Path:
    """The production config, its runtime directory moved into ``tmp_path``."""
    path = tmp_path / "supervisord.conf"
    path.write_text(CONFIG.read_text().replace(RUNTIME_DIR, str(tmp_path)))
    return path


@pytest.fixture
def required_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("required_env")
def test_supervisord_runs_one_ingress_two_named_relays_the_notifier_and_files(
    deploy_config: Path,
) -> None:
    processes = {p.name: p for p in parse(deploy_config)}
    assert sorted(processes) == ["files", "ingress", "notifier", "relay-1", "relay-2"]
    relay_names = {processes[n].environment["RELAY_NAME"] for n in ("relay-1", "relay-2")}
    assert len(relay_names) == 2, "each relay has a consumer name of its own"


@pytest.mark.usefixtures("required_env")
def test_every_program_runs_a_real_subcommand(deploy_config: Path) -> None:
    for process in parse(deploy_config):
        program, subcommand = process.command.split()
        assert program == "telegram-bot"
        assert subcommand in COMMANDS
        assert process.name.split("-")[0] == subcommand


@pytest.mark.usefixtures("required_env")
def test_every_variable_named_is_one_the_process_reads(deploy_config: Path) -> None:
    for process in parse(deploy_config):
        subcommand = process.command.split()[1]
        unknown = set(process.environment) - read_by(subcommand)
        assert not unknown, f"{process.name} reads no such variable: {sorted(unknown)}"


@pytest.mark.usefixtures("required_env")
def test_the_required_variables_reach_every_program(deploy_config: Path) -> None:
    for process in parse(deploy_config):
        assert {k: process.environment.get(k) for k in REQUIRED} == REQUIRED


@pytest.mark.usefixtures("required_env")
def test_every_program_serves_health_and_metrics_on_a_port_of_its_own(
    deploy_config: Path,
) -> None:
    ports = {p.name: int(p.environment["METRICS_PORT"]) for p in parse(deploy_config)}
    assert ports == {
        "ingress": 9100,
        "notifier": 9101,
        "files": 9102,
        "relay-1": 9201,
        "relay-2": 9202,
    }


@pytest.mark.usefixtures("required_env")
def test_every_program_stops_on_sigterm_and_logs_to_stdout(deploy_config: Path) -> None:
    for process in parse(deploy_config):
        assert process.stopsignal.name == "SIGTERM"
        assert process.redirect_stderr
        assert process.stdout_logfile == "/dev/stdout"
        assert process.stdout_logfile_maxbytes == 0


def test_supervisord_refuses_to_start_without_the_token(
    deploy_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN")
    with pytest.raises(Rejected, match="ENV_TELEGRAM_BOT_TOKEN"):
        parse(deploy_config)


def test_supervisord_refuses_to_start_without_the_files_signing_key(
    deploy_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("FILES_SIGNING_KEY")
    with pytest.raises(Rejected, match="ENV_FILES_SIGNING_KEY"):
        parse(deploy_config)


@pytest.mark.usefixtures("required_env")
def test_the_sandbox_runs_the_same_programs_as_production(
    deploy_config: Path, tmp_path: Path
) -> None:
    sandbox_config = tmp_path / "sandbox" / "supervisord.conf"
    sandbox_config.parent.mkdir()
    sandbox_config.write_text(
        render_config(sandbox_config.parent, ["telegram-bot"], relays=2, password="pw")
    )

    def shape(processes: list[Any]) -> dict[str, tuple[Any, ...]]:
        return {
            p.name: (
                p.command,
                p.stopsignal,
                p.stopasgroup,
                p.killasgroup,
                p.redirect_stderr,
                p.stdout_logfile,
                p.autorestart,
                "RELAY_NAME" in p.environment,
            )
            for p in processes
        }

    sandbox, production = shape(parse(sandbox_config)), shape(parse(deploy_config))
    assert set(production) - set(sandbox) <= SANDBOX_MAY_LEAVE_OUT
    for name in SANDBOX_MAY_LEAVE_OUT:
        sandbox.pop(name, None)
        production.pop(name, None)
    assert sandbox == production


def test_a_percent_sign_in_a_path_does_not_break_the_sandbox_config(tmp_path: Path) -> None:
    workdir = tmp_path / "100%"
    workdir.mkdir()
    config = workdir / "supervisord.conf"
    config.write_text(render_config(workdir, [str(workdir / "telegram-bot")], 2, "pw"))
    commands = {p.command for p in parse(config)}
    assert f"{workdir}/telegram-bot ingress" in commands
