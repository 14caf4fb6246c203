"""The relay never loads aiogram: its pydantic models of the Bot API cost ~130 MB of RSS."""

from __future__ import annotations

import subprocess
import sys

CHECK = (
    "import sys, services.relay.app\n"
    "loaded = sorted(m for m in sys.modules if m == 'aiogram' or m.startswith('aiogram.'))\n"
    "assert not loaded, loaded[:5]\n"
)


def test_importing_the_relay_app_does_not_import_aiogram() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=60, check=False
    )

    assert done.returncode == 0, done.stderr
