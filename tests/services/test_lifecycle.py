"""Every process stops cleanly on SIGTERM, as supervisor and docker stop ask."""

from __future__ import annotations

import time

import pytest

from tests.plugins.processes import StartService

STOP_WITHIN_S = 5.0


@pytest.mark.parametrize("command", ["ingress", "relay", "notifier"])
async def test_sigterm_stops_the_process_with_status_0_within_seconds(
    command: str, start_service: StartService
) -> None:
    process = start_service(command)
    await process.wait_for_event(f"{command}_started", timeout=30)

    began = time.monotonic()
    code = process.terminate(timeout=STOP_WITHIN_S + 5)

    assert code == 0, process.logs()
    assert time.monotonic() - began < STOP_WITHIN_S
    assert any(e.get("event") == f"{command}_stopped" for e in process.events())
