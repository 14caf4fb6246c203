"""deploy/caddy/Caddyfile agrees with the bot's deployment files.

Caddy itself is not installed by ``make test``; where ``caddy`` is on the PATH
the file is also adapted and validated by it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CADDYFILE = ROOT / "deploy" / "caddy" / "Caddyfile"
TEXT = CADDYFILE.read_text()
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
COMMON_ENV: dict[str, str] = COMPOSE["x-common-env"]
TELEGRAM_PORTS = {"443", "80", "88", "8443"}


def _compose_webhook_url() -> str:
    found = re.search(r"WEBHOOK_URL: (https://\S+)", (ROOT / "docker-compose.yml").read_text())
    assert found is not None, "docker-compose.yml's webhook variant names no WEBHOOK_URL"
    return found.group(1)


def test_the_webhook_path_is_the_one_of_the_compose_files_webhook_url() -> None:
    path = "/" + _compose_webhook_url().split("://", 1)[1].partition("/")[2]
    assert re.search(rf"^\s*path {re.escape(path)}$", TEXT, re.MULTILINE)


def test_health_checks_ask_healthz_on_the_metrics_port() -> None:
    ports = set(re.findall(r"health_port (\d+)", TEXT))
    uris = set(re.findall(r"health_uri (\S+)", TEXT))
    assert (ports, uris) == ({COMMON_ENV["METRICS_PORT"]}, {"/healthz"})


def test_files_go_to_the_port_the_files_process_listens_on() -> None:
    files_port = COMPOSE["services"]["files"]["environment"]["FILES_LISTEN"].rpartition(":")[2]
    upstreams = re.search(r"handle /files/\* \{\s*reverse_proxy ([^{]+)\{", TEXT)
    assert upstreams is not None
    assert {u.rpartition(":")[2] for u in upstreams.group(1).split()} == {files_port}


def test_it_listens_on_a_port_telegram_posts_webhooks_to() -> None:
    port = re.search(r"^\s*https_port (\d+)", TEXT, re.MULTILINE)
    assert (port.group(1) if port else "443") in TELEGRAM_PORTS


def test_caddy_accepts_the_caddyfile() -> None:
    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.skip("caddy is not installed")
    env = {**os.environ, "BOT_DOMAIN": "bot.example.org", "ACME_EMAIL": "ops@example.org"}
    done = subprocess.run(
        [caddy, "adapt", "--config", str(CADDYFILE), "--validate"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
