"""Webhook mode: each user's updates are stored in ``update_id`` order, across replicas.

Telegram may post a user's updates over several connections at once, to
any replica, and a slow auth lookup can hold an earlier one back. So each
update marks itself in flight for its user (``bot:inflight:{telegram_id}``)
on arrival, before anything slow, and just before it is stored it waits
until no earlier update of that user is still in flight anywhere; it
unmarks itself once stored or dropped, which wakes the later ones. The
wait is bounded (``WEBHOOK_ORDER_WAIT_S``) and a mark expires, so a replica
killed mid-update holds nobody up for long. What this does and does not
guarantee, and its cost: ``docs/ARCHITECTURE.md``, "Webhook ordering".
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from services.ingress.updates import update_id_of
from shared.connections import text
from shared.log import get_logger
from shared.scripts import register

log = get_logger(__name__)

INFLIGHT_PREFIX: Final = "bot:inflight:"
MAX_BLOCK_S: Final = 2.0
"""One blocking wait at most this long (then look again): well below the socket timeout."""


def inflight_key(telegram_id: int) -> str:
    return f"{INFLIGHT_PREFIX}{telegram_id}"


def done_key(member: str) -> str:
    return f"{INFLIGHT_PREFIX}done:{member}"


class Turn:
    """One update's place in its user's line; for an update without a person, no place."""

    async def wait(self) -> None:
        """Return once no earlier update of the same user is in flight (or the wait timed out)."""

    async def leave(self) -> None:
        """The update is stored or dropped: the later ones may go. Never raises."""


NO_TURN: Final = Turn()


class UserOrder:
    """Hands out ``Turn``s; ``wait_s`` bounds each wait, and a mark lives ``2 * wait_s``."""

    def __init__(self, redis: aioredis.Redis, *, wait_s: float) -> None:
        self._redis = redis
        self.wait_s = wait_s
        # Long enough for the update's own auth (below wait_s) and its own wait.
        self.mark_ms = int(2 * wait_s * 1000)
        self._arrive = register(redis, __file__, "order_arrive.lua")
        self._ahead = register(redis, __file__, "order_ahead.lua")
        self._leave = register(redis, __file__, "order_leave.lua")

    async def arrive(self, raw: Any) -> Turn:
        """Mark the raw update ``raw`` in flight.

        When Redis fails the update goes on unmarked: storing it will most
        likely fail too (503, Telegram sends it again), as without ordering.
        """
        update_id, telegram_id = update_id_of(raw), sender_of(raw)
        if update_id is None or telegram_id is None:
            return NO_TURN  # nobody's order to keep: auth drops it
        key = inflight_key(telegram_id)
        try:
            member = await self._arrive(
                keys=[key], args=[update_id, uuid.uuid4().hex, self.mark_ms]
            )
        except RedisError as exc:
            log.warning("update_order_unmarked", update_id=update_id, error=type(exc).__name__)
            return NO_TURN
        return _Marked(self, key, text(member), update_id, telegram_id)

    async def ahead(self, key: str, update_id: int) -> tuple[str, int, float] | None:
        """The latest earlier update in flight: its member, update id and seconds left."""
        found = await self._ahead(keys=[key], args=[update_id])
        if found is None:
            return None
        member, earlier, ms_left = found
        return text(member), int(text(earlier)), int(ms_left) / 1000

    async def wait_for(self, member: str, seconds: float) -> None:
        """Block until ``member`` leaves, or ``seconds`` pass."""
        key, block = done_key(member), round(max(seconds, 0.001), 3)  # 0 would block forever
        # Moved onto itself, the wake-up stays for every other waiter. Redis
        # takes a fractional timeout; redis-py's hint says int.
        await self._redis.blmove(key, key, block, "RIGHT", "LEFT")  # type: ignore[arg-type]

    async def leave(self, key: str, member: str, update_id: int) -> None:
        await self._leave(keys=[key, done_key(member)], args=[member, update_id, self.mark_ms])


class _Marked(Turn):
    __slots__ = ("_key", "_member", "_order", "_telegram_id", "_update_id")

    def __init__(
        self, order: UserOrder, key: str, member: str, update_id: int, telegram_id: int
    ) -> None:
        self._order = order
        self._key = key
        self._member = member
        self._update_id = update_id
        self._telegram_id = telegram_id

    async def wait(self) -> None:
        """``RedisError`` when Redis fails (the update cannot be stored then either)."""
        started = time.monotonic()
        deadline = started + self._order.wait_s
        while (ahead := await self._order.ahead(self._key, self._update_id)) is not None:
            member, earlier, mark_left_s = ahead
            left = deadline - time.monotonic()
            if left <= 0:
                log.warning(
                    "update_order_gave_up",
                    telegram_id=self._telegram_id,
                    update_id=self._update_id,
                    waiting_for=earlier,
                    waited_s=round(time.monotonic() - started, 3),
                )
                return
            await self._order.wait_for(member, min(left, mark_left_s, MAX_BLOCK_S))
        if (waited := time.monotonic() - started) > 0.001:
            log.debug("update_order_kept", update_id=self._update_id, waited_s=round(waited, 3))

    async def leave(self) -> None:
        try:
            await self._order.leave(self._key, self._member, self._update_id)
        except RedisError as exc:  # the mark expires by itself: nothing else to undo
            log.warning(
                "update_order_leave_failed", update_id=self._update_id, error=type(exc).__name__
            )


def sender_of(raw: Any) -> int | None:
    """The Telegram id of the person behind a raw update (``from`` of its payload), if any."""
    if not isinstance(raw, dict):
        return None
    for kind, payload in raw.items():
        if kind != "update_id" and isinstance(payload, dict):
            sender = payload.get("from")
            value = sender.get("id") if isinstance(sender, dict) else None
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            return None
    return None
