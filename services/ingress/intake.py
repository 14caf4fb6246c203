"""Durable intake: known users' chat messages, stored in Redis for the relays.

A message goes to its user's partition, ``bot:incoming:{p}`` with
``p = keys.partition_of(user_id)``: one relay owns a partition at a time,
which keeps each user's messages in order.

Handlers do not write to Redis themselves: they add messages to the
``IntakeBatch`` of the updates being handled (one ``getUpdates`` answer, or
one webhook request), and the batch is stored by one script call before
those updates are confirmed to Telegram. So an update is confirmed only
once its message is in Redis, and a slow Redis costs one wait per batch,
not one per message.

For each message the Lua script checks and sets ``bot:update:{update_id}``
(TTL ``INTAKE_DEDUPE_TTL_S``, a day) and adds the entry to the partition's
stream, atomically: an update Telegram delivers twice (a
crash before the offset moved, a webhook retry) is forwarded once, and a
batch can be stored again after a failure without duplicating what the
first attempt stored.

The batch travels as one JSON argument, key names included, rather than as
``KEYS`` and ``ARGV`` entries: packing three arguments per message was the
largest cost the ingress added to bare aiogram (``bench/ingress.py``).
Scripts that touch keys they do not declare are fine on one Redis server
(with its replicas), the layout this bot targets; a Redis Cluster would
need the keys declared and in one hash slot.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any, Final, NamedTuple

import msgspec
import redis.asyncio as aioredis
from redis.exceptions import NoScriptError, RedisError

from services.ingress.backoff import retry_delay
from shared import keys
from shared.log import debug_enabled, get_logger
from shared.metrics import Metrics
from shared.schemas import IncomingMessage, encode, utc_now_iso

log = get_logger(__name__)
_debug_enabled = debug_enabled(__name__)


DEDUPE_PREFIX: Final = "bot:update:"
"""``bot:update:{update_id}``: exists while the update counts as stored."""

_STORE_SCRIPT: Final = """
-- ARGV: dedupe ttl (s), stream maxlen (0: none), and a JSON array with one
-- [dedupe key, stream, data] per message.
-- Returns per message the new entry id, or 0 for an update stored before.
local ttl, maxlen = ARGV[1], tonumber(ARGV[2])
local out = {}
for i, item in ipairs(cjson.decode(ARGV[3])) do
  local seen_key, stream, data = item[1], item[2], item[3]
  if redis.call('SET', seen_key, '1', 'NX', 'EX', ttl) then
    if maxlen > 0 then
      out[i] = redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'data', data)
    else
      out[i] = redis.call('XADD', stream, '*', 'data', data)
    end
  else
    out[i] = 0
  end
end
return out
"""


_items_encoder = msgspec.json.Encoder()


def dedupe_key(update_id: int) -> str:
    return f"{DEDUPE_PREFIX}{update_id}"


class _Pending(NamedTuple):  # a tuple: built for every message, cheaper than a dataclass
    update_id: int
    user_id: int
    request_id: str
    stream: str
    data: str
    """The ``IncomingMessage`` as JSON text, the stream entry's ``data`` field."""


class IntakeBatch:
    """Messages accepted while handling one batch of updates, not yet stored."""

    __slots__ = ("_pending", "received_at")

    def __init__(self) -> None:
        self._pending: list[_Pending] = []
        self.received_at = utc_now_iso()
        """When the batch arrived: the ``timestamp`` of its messages (one clock read per batch)."""

    def add(self, message: IncomingMessage) -> None:
        # Encoded here, inside the handler, so a message that cannot be
        # encoded fails its own update and not the whole batch.
        stream = keys.incoming(keys.partition_of(message.user_id))
        data = encode(message).decode()
        self._pending.append(
            _Pending(message.update_id, message.user_id, message.request_id, stream, data)
        )

    def __len__(self) -> int:
        return len(self._pending)

    @property
    def pending(self) -> Sequence[_Pending]:
        return self._pending


class Intake:
    """Stores ``IntakeBatch``es in ``bot:incoming:{p}``, each update at most once.

    ``maxlen`` caps each partition's stream (``XADD MAXLEN ~``; 0: no cap).
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        dedupe_ttl_s: int = 24 * 60 * 60,
        maxlen: int = 100_000,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics or Metrics("ingress")
        self._redis = redis
        self._dedupe_ttl_s = dedupe_ttl_s
        self._maxlen = maxlen
        self._script = redis.register_script(_STORE_SCRIPT)

    async def store(self, batch: IntakeBatch) -> None:
        """Store every message of ``batch`` once; ``RedisError`` when Redis fails."""
        if not batch:
            return
        try:
            replies = await self._run(batch.pending)
        except NoScriptError:
            # First use, or Redis restarted: nothing ran, so load it and go again.
            await self._redis.script_load(_STORE_SCRIPT)
            replies = await self._run(batch.pending)
        duplicates = _log_stored(batch.pending, replies)
        for _ in range(duplicates):
            self._metrics.update_rejected("duplicate")

    async def store_until_stored(self, batch: IntakeBatch, stop: asyncio.Event) -> bool:
        """Retry ``store`` with capped backoff until it succeeds (True) or ``stop`` is set (False).

        False leaves the batch's updates unconfirmed: Telegram delivers them again.

        The polling loop uses this: until the batch is stored its updates
        must not be confirmed, and stalling is the only way to hold them
        (aiogram would move the offset on past a failed handler).
        """
        attempt = 0
        while True:
            try:
                await self.store(batch)
            except RedisError as exc:
                attempt += 1
                delay = retry_delay(attempt)
                log.warning(
                    "intake_retrying",
                    error=type(exc).__name__,
                    attempt=attempt,
                    updates=len(batch),
                    retry_in_s=round(delay, 2),
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                if stop.is_set():
                    log.warning("intake_abandoned", updates=len(batch))
                    return False
                continue
            if attempt:
                log.info("intake_recovered", attempts=attempt + 1)
            return True

    async def _run(self, pending: Sequence[_Pending]) -> list[Any]:
        items = _items_encoder.encode(
            [(dedupe_key(item.update_id), item.stream, item.data) for item in pending]
        )
        replies: list[Any] = await self._redis.evalsha(
            self._script.sha, 0, self._dedupe_ttl_s, self._maxlen, items
        )
        return replies


def _log_stored(pending: Sequence[_Pending], replies: Sequence[Any]) -> int:
    """One INFO line per batch (a line per message costs throughput); the duplicates counted."""
    stored: list[int] = []
    request_ids: list[str] = []
    duplicates: list[int] = []
    debug = _debug_enabled()
    for item, entry_id in zip(pending, replies, strict=True):
        added = entry_id != 0
        (stored if added else duplicates).append(item.update_id)
        if added:
            request_ids.append(item.request_id)
        if debug:
            log.debug(
                "message_queued" if added else "update_duplicate",
                user_id=item.user_id,
                update_id=item.update_id,
                request_id=item.request_id,
                stream=item.stream,
                entry_id=entry_id.decode() if isinstance(entry_id, bytes) else None,
            )
    log.info(
        "messages_queued",
        update_ids=stored,
        request_ids=request_ids,
        duplicate_update_ids=duplicates,
    )
    return len(duplicates)
