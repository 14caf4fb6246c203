"""The ``fake_api`` fixture: a fresh fake backend API per test, on a free port."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.fakes.api import FakeApi


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeApi]:
    """An empty, started ``FakeApi``; add data with ``add_user``... or ``seed_demo``."""
    async with FakeApi() as api:
        yield api
