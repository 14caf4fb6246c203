"""What the ingress counts: updates in, and each update it turned away, by reason."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.fakes.api import FakeApi
from services.fakes.telegram import FakeTelegram
from services.ingress.app import Ingress
from tests.services.ingress.conftest import KNOWN, STRANGER, StartIngress, handled


def counted(ingress: Ingress, name: str, **labels: str) -> float:
    page = ingress.metrics.exposition().decode()
    wanted = {"service": "ingress", **labels}
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            if sample.name == name and sample.labels == wanted:
                return sample.value
    return 0.0


@pytest.mark.usefixtures("known_user")
async def test_updates_are_counted_by_kind_and_rejections_by_reason(
    fake_telegram: FakeTelegram, fake_api: FakeApi, start_ingress: StartIngress
) -> None:
    running = await start_ingress()
    ingress = running.ingress

    await handled(fake_telegram, fake_telegram.inject_message(KNOWN, "hello"))
    await handled(fake_telegram, fake_telegram.inject_message(STRANGER, "let me in"))
    fake_api.down = True
    await handled(fake_telegram, fake_telegram.inject_message(KNOWN + 1, "anyone?"))
    malformed: dict[str, Any] = {"message": {"message_id": "not a number"}}
    await handled(fake_telegram, fake_telegram.inject_update(malformed))

    received = "telegram_bot_updates_received_total"
    rejected = "telegram_bot_updates_rejected_total"
    assert counted(ingress, received, kind="message") == 4, "the malformed one too"
    assert counted(ingress, rejected, reason="stranger") == 1
    assert counted(ingress, rejected, reason="auth_unavailable") == 1
    assert counted(ingress, rejected, reason="malformed") == 1
