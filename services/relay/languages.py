"""The language the relay writes to a chat in: the one its user last wrote in.

The ingress puts the sender's language on every ``IncomingMessage``
(``language``). The relay keeps it per chat in ``bot:language:{chat_id}``
(``LANGUAGE_TTL_S``), set when a message's language differs from what this
process last noted, so any relay that later writes to the chat (a reply's
failure, a timeout, the working note, ``/stop``'s answer), after a restart
or a partition's move too, finds it. A small local cache spares a Redis
read per note; its entries live ``LOCAL_S``, after which the next message
writes the key again, which keeps an active user's key from expiring. No
record, or Redis failing: ``DEFAULT_LANGUAGE``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from shared.log import get_logger
from shared.texts import DEFAULT_LANGUAGE, Texts, for_language

log = get_logger(__name__)

LANGUAGE_TTL_S: Final = 30 * 24 * 60 * 60
LOCAL_S: Final = 60 * 60.0
LOCAL_MAX_CHATS: Final = 10_000


def language_key(chat_id: int) -> str:
    """``bot:language:{chat_id}``: the language the chat's user last wrote in."""
    return f"bot:language:{chat_id}"


class ChatLanguages:
    def __init__(
        self,
        redis: aioredis.Redis,
        default: str = DEFAULT_LANGUAGE,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_chats: int = LOCAL_MAX_CHATS,
    ) -> None:
        self._redis = redis
        self._default = default
        self._clock = clock
        self._max_chats = max_chats
        self._known: OrderedDict[int, tuple[float, str]] = OrderedDict()

    @property
    def default(self) -> Texts:
        return for_language(None, self._default)

    async def note(self, chat_id: int, language: str) -> None:
        """A message from the chat's user arrived in ``language`` (empty: an older entry)."""
        if not language or self._local(chat_id) == language:
            return
        try:
            await self._redis.set(language_key(chat_id), language, ex=LANGUAGE_TTL_S)
        except RedisError as exc:
            log.warning("chat_language_not_kept", chat_id=chat_id, error=type(exc).__name__)
            return
        self._remember(chat_id, language)

    async def texts(self, chat_id: int) -> Texts:
        """The texts to write to ``chat_id`` in."""
        language = self._local(chat_id)
        if language is None:
            try:
                raw: Any = await self._redis.get(language_key(chat_id))
            except RedisError as exc:
                log.warning("chat_language_unknown", chat_id=chat_id, error=type(exc).__name__)
                raw = None
            if raw is not None:
                language = raw.decode() if isinstance(raw, bytes) else str(raw)
                self._remember(chat_id, language)
        return for_language(language, self._default)

    def _local(self, chat_id: int) -> str | None:
        entry = self._known.get(chat_id)
        if entry is None:
            return None
        expires, language = entry
        if self._clock() >= expires:
            del self._known[chat_id]
            return None
        return language

    def _remember(self, chat_id: int, language: str) -> None:
        self._known[chat_id] = (self._clock() + LOCAL_S, language)
        self._known.move_to_end(chat_id)
        while len(self._known) > self._max_chats:
            self._known.popitem(last=False)
