"""Logging: JSON with the service name on every event, and never a secret."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from shared import log

TOKEN = "123456:TEST-token_abc"


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    yield
    # The configuration writes to this test's captured stderr, closed after it.
    logging.getLogger().handlers.clear()
    structlog.reset_defaults()


def _events(err: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in err.splitlines() if line.strip()]


def test_every_event_is_json_with_the_service_name(capsys: pytest.CaptureFixture[str]) -> None:
    log.configure("relay", fmt="json", secrets=[TOKEN])
    log.get_logger("t").info("po_spawned", user_id=7)
    (event,) = _events(capsys.readouterr().err)
    assert event["event"] == "po_spawned"
    assert event["service"] == "relay"
    assert event["user_id"] == 7
    assert event["level"] == "info"


def test_the_console_format_is_one_readable_line_with_the_service_name_and_no_secret(
    capsys: pytest.CaptureFixture[str],
) -> None:
    log.configure("notifier", fmt="console", secrets=[TOKEN])
    log.get_logger("t").info("result_notified", server=f"s-{TOKEN}", admins=2)
    (line,) = capsys.readouterr().err.splitlines()
    assert "result_notified" in line
    assert "service=notifier" in line
    assert "admins=2" in line
    assert TOKEN not in line
    assert not line.lstrip().startswith("{")


def test_the_token_is_scrubbed_from_our_events_and_from_library_records(
    capsys: pytest.CaptureFixture[str],
) -> None:
    log.configure("ingress", fmt="json", secrets=[TOKEN, "internal-key"])
    url = f"https://api.telegram.org/bot{TOKEN}/getUpdates"
    log.get_logger("t").warning(
        "request_failed", url=url, headers={"X-Internal-Key": "internal-key"}
    )
    logging.getLogger("aiogram.dispatcher").error("Failed to fetch updates - %s", url)
    try:
        raise RuntimeError(f"boom at {url}")
    except RuntimeError:
        log.get_logger("t").exception("crashed")
    err = capsys.readouterr().err
    assert TOKEN not in err
    assert "internal-key" not in err
    assert len(_events(err)) == 3
    assert err.count(log.REDACTED) >= 4


def test_debug_events_are_dropped_at_info(capsys: pytest.CaptureFixture[str]) -> None:
    log.configure("notifier", level="INFO", fmt="json")
    log.get_logger("t").debug("message_text", text="private words")
    assert "private words" not in capsys.readouterr().err
