"""One message at a time per chat within a process, so a message's parts stay together."""

from __future__ import annotations

import asyncio


class ChatLocks:
    """An asyncio lock per chat, kept only while someone holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[int, _ChatLock] = {}

    def __call__(self, chat_id: int) -> _ChatLock:
        """``async with locks(chat_id):`` sends to ``chat_id`` one at a time, in call order."""
        lock = self._locks.get(chat_id)
        if lock is None:
            lock = self._locks[chat_id] = _ChatLock(self._locks, chat_id)
        return lock


class _ChatLock:
    """An asyncio lock per chat, forgotten when nobody holds or waits for it."""

    def __init__(self, registry: dict[int, _ChatLock], chat_id: int) -> None:
        self._registry = registry
        self._chat_id = chat_id
        self._lock = asyncio.Lock()
        self._users = 0

    async def __aenter__(self) -> None:
        self._users += 1
        try:
            await self._lock.acquire()
        except BaseException:
            self._release_user()
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        self._lock.release()
        self._release_user()

    def _release_user(self) -> None:
        self._users -= 1
        if self._users == 0:
            self._registry.pop(self._chat_id, None)
