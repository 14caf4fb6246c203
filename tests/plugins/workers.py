"""The ``fake_workers`` fixture: a fake worker-manager and PO workers on this test's Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.fakes.workers import FakeWorkerManager, Profile


@pytest.fixture
def po_contract() -> Profile:
    """The PO contract profile the fake POs speak (and the relays are given): ``seed``.

    A test module overrides this fixture (parametrized) to run in other profiles.
    """
    return "seed"


@pytest.fixture
async def fake_workers(redis_url: str, po_contract: Profile) -> AsyncIterator[FakeWorkerManager]:
    """A started ``FakeWorkerManager``: every PO answers ``echo: <text>`` unless scripted."""
    async with FakeWorkerManager(redis_url, profile=po_contract) as manager:
        yield manager
