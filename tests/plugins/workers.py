"""The ``fake_workers`` fixture: a fake worker-manager and PO workers on this test's Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.fakes.workers import FakeWorkerManager


@pytest.fixture
async def fake_workers(redis_url: str) -> AsyncIterator[FakeWorkerManager]:
    """A started ``FakeWorkerManager``: every PO answers ``echo: <text>`` unless scripted."""
    async with FakeWorkerManager(redis_url) as manager:
        yield manager
