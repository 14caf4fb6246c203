"""Every process stops cleanly on SIGTERM, as supervisor and docker stop ask, and on Ctrl-C."""

from __future__ import annotations

import signal
import time

import pytest

from tests.plugins.processes import StartService

STOP_WITHIN_S = 5.0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("command", ["ingress", "relay", "notifier"])
async def test_a_stop_signal_stops_the_process_with_status_0_within_seconds(
    command: str, sig: signal.Signals, start_service: StartService
) -> None:
    process = start_service(command)
    await process.wait_for_event(f"{command}_started", timeout=30)

    began = time.monotonic()
    code = await process.stop(timeout=STOP_WITHIN_S + 5, sig=sig)

    assert code == 0, process.logs()
    assert time.monotonic() - began < STOP_WITHIN_S
    assert any(e.get("event") == f"{command}_stopped" for e in process.events())
