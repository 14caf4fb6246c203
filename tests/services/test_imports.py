"""The relay and the notifier never load aiogram: its pydantic models of the Bot API cost
~130 MB of RSS. They only send, through ``shared.telegram``."""

from __future__ import annotations

import subprocess
import sys

import pytest

CHECK = (
    "import sys, services.{service}.app\n"
    "loaded = sorted(m for m in sys.modules if m == 'aiogram' or m.startswith('aiogram.'))\n"
    "assert not loaded, loaded[:5]\n"
)


@pytest.mark.parametrize("service", ["relay", "notifier"])
def test_importing_the_app_does_not_import_aiogram(service: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK.format(service=service)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
