"""Fixtures for the fake Telegram Bot API (``services.fakes.telegram``).

``fake_telegram`` is a started :class:`FakeTelegram` (Telegram's default
flood limits on, real monotonic clock); ``bot`` is a real aiogram ``Bot``
pointed at it, ``telegram_client`` our own ``shared.telegram.TelegramClient``
(what ``shared.sending`` sends with). Flood tests take ``telegram_clock`` to
move time by hand.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from services.fakes.telegram import FakeTelegram, ManualClock
from shared.telegram import TelegramClient


class FastCloseSession(AiohttpSession):
    """aiogram's session without its 250 ms pause on close.

    The pause lets TLS connections drain; the fake speaks plain HTTP on
    loopback, and the pause would add a quarter second to every test.
    """

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


def make_bot(fake: FakeTelegram, *, token: str | None = None, timeout: float = 60.0) -> Bot:
    """A real aiogram Bot talking to ``fake`` (``timeout``: aiogram's request timeout, s)."""
    session = FastCloseSession(api=TelegramAPIServer.from_base(fake.url), timeout=timeout)
    return Bot(token or fake.token, session=session)


@pytest.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def telegram_clock(fake_telegram: FakeTelegram) -> ManualClock:
    """A hand-moved clock installed on ``fake_telegram`` (flood limits, call times)."""
    clock = ManualClock()
    fake_telegram.clock = clock
    return clock


@pytest.fixture
async def bot(fake_telegram: FakeTelegram) -> AsyncIterator[Bot]:
    async with make_bot(fake_telegram) as bot:  # closes its session
        yield bot


def make_client(
    fake: FakeTelegram, *, token: str | None = None, timeout: float = 60.0
) -> TelegramClient:
    """A ``TelegramClient`` talking to ``fake`` (``timeout``: per request, s)."""
    return TelegramClient(token or fake.token, fake.url, timeout=timeout)


@pytest.fixture
async def telegram_client(fake_telegram: FakeTelegram) -> AsyncIterator[TelegramClient]:
    async with make_client(fake_telegram) as client:
        yield client
