"""Telegram's flood budget, shared by every process that sends with the bot's token.

Telegram counts every message a bot sends, whichever process sent it: about
one per second per chat (with a small burst), 20 per minute per group, about
30 per second in all. Bots that keep going over get banned for minutes to
hours. So the budget lives in Redis, and every request that counts
(``sendMessage``, ``editMessageText``, ``sendMessageDraft``) first takes a
slot from it::

    async with limiter.slot(chat_id):   # may wait: that wait is the rate limit
        await bot.send_message(chat_id, ...)

Each step is one atomic Lua script timed by Redis' own clock (one clock for
every process). Nothing is held beyond a TTL, so a process killed at any
point leaks nothing for long: at worst a slot it was granted goes unused,
or (killed mid-request) its request counts as in flight, holding back that
chat and one place of the windows, for ``in_flight_s`` (10 s).

1. Reserve (``_RESERVE``). The global pace is a reservation queue (GCRA
   without burst): ``bot:flood:global`` holds the next free slot time; a
   grant takes ``max(now, next)`` and moves ``next`` on by one interval.
   Slots go first come, first served and callers sleep until theirs, so
   waiting callers never poll in a herd and no slot is lost to a caller that
   woke up late. A grant is given only if the chat's own limits allow a send
   at that slot: its GCRA bucket with a burst (``bot:flood:chat:{id}``), a
   group's sliding window log (``bot:flood:group:{id}``, chat id < 0) and
   the pauses. Otherwise nothing is taken and the answer says when the chat
   will be ready, so a chat held back by its own limits never holds a
   global slot another chat could use.
2. Gate (``_GATE``), at the slot's time, just before the request: no pause
   in force, and Telegram's limits counted by *answer* times. Telegram sees
   a request after we let it go and before its answer reaches us, so
   counting earlier requests at their answer times (and requests still in
   flight as "now") keeps every window Telegram can measure under its limit
   whatever the network and scheduling jitter, which the pace alone cannot
   promise. Global: ``bot:flood:sent``, a sorted set scored by answer time,
   must hold fewer than ``global_limit`` requests within the last
   ``global_window_s``; a group has the same log of its own
   (``bot:flood:sent:{id}``). A chat has at most one request in flight
   (``bot:flood:flight:{id}``), and a GCRA bucket fed with answer times
   (``bot:flood:answered:{id}``).
3. Release (``_RELEASE``): after the answer (or the error), the request is
   logged with that time and the chat's in-flight mark is cleared; a
   :class:`Record` given with it (the sender's note of a part sent under a
   key) is written in the same step.

Round trips: when the slot reserved is *now* (the budget is not the
bottleneck), :meth:`FloodLimiter.acquire` passes the gate in the same script
as the reservation (``_ACQUIRE``): the same two steps back to back, with
nothing in between, one round trip instead of two. A slot in the future is
waited for and then gated on its own, as above.

Margins: the pace is ``safety`` (0.97) times the configured global rate,
and its group window is stretched by ``1 / safety``, so that the gate rarely
has to hold anything back; the chat burst is 2 where Telegram allows about
3, room for error in a model of an unpublished algorithm.

Which 429 was it? Telegram does not say whether the chat's limit or the
bot's global one was hit. The rule: every 429 pauses its chat
(``bot:flood:pause:{id}``, PX = ``retry_after``) for the full
``retry_after``; when ``global_pause_chats`` (2) different chats get a 429
within ``global_pause_window_s`` (2 s), the limit hit is taken to be the
global one and every chat is paused too (``bot:flood:pause``). A per-chat
limit cannot explain several chats at once, while the global one hits them
all; pausing a little too much is cheap, a second violation is not.

Previews (drafts, edits that show a reply being written) take a slot only
when one is free *now* and the chat keeps room for a final message: a full
chat bucket, ``preview_group_reserve`` sends left in a group's window, no
final message queued for the global budget, room in the global window. They
never wait, so they never delay or starve final messages beyond the one
slot they take.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import redis.asyncio as aioredis

from shared.log import get_logger
from shared.settings import BaseSettings

log = get_logger(__name__)

PREFIX = "bot:flood:"

# Every script starts with Redis' clock (ms) and these helpers.
_CLOCK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000

local function stored(key)
  return tonumber(redis.call('GET', key) or '0') or 0
end
local function ms(x)
  return string.format('%.3f', x)
end
"""

# k: global next slot, chat TAT, group window, global pause, chat pause.
# a: mode ("wait" | "now"), global interval ms, chat interval ms, chat
# tolerance ms, is group (0/1), group limit, group window ms, group reserve
# for previews. Returns granted (0/1) and the delay in ms: granted, sleep
# the delay then send; not granted, ask again after the delay (for "now",
# not granted means skip).
_RESERVE_FN = """
local function reserve(k, a)
  local mode = a[1]
  local interval_g = tonumber(a[2])
  local interval_c = tonumber(a[3])
  local tolerance_c = tonumber(a[4])
  local is_group = a[5] == '1'
  local group_limit = tonumber(a[6])
  local group_window = tonumber(a[7])
  local group_reserve = tonumber(a[8])

  local slot = math.max(now, stored(k[1]), stored(k[4]))
  local chat_tat = stored(k[2])
  local ready = math.max(chat_tat - tolerance_c, stored(k[5]))
  local in_window = 0
  if is_group then
    redis.call('ZREMRANGEBYSCORE', k[3], '-inf', now - group_window)
    in_window = redis.call('ZCARD', k[3])
    if in_window >= group_limit then
      local oldest = redis.call('ZRANGE', k[3], in_window - group_limit,
                                in_window - group_limit, 'WITHSCORES')
      ready = math.max(ready, tonumber(oldest[2]) + group_window)
    end
  end

  if mode == 'now' then
    -- A preview: only an idle global budget, and only if the chat keeps a
    -- token (and a group some sends) for the final message.
    local keeps_token = chat_tat - now <= tolerance_c - interval_c
    local keeps_group = (not is_group) or in_window + group_reserve < group_limit
    if slot > now or ready > now or not keeps_token or not keeps_group then
      return 0, 0
    end
  elseif ready > slot then
    return 0, ready - now
  end

  local next_slot = slot + interval_g
  redis.call('SET', k[1], ms(next_slot), 'PX', math.ceil(next_slot - now) + 1000)
  local next_tat = math.max(chat_tat, slot) + interval_c
  redis.call('SET', k[2], ms(next_tat), 'PX', math.ceil(next_tat - now) + 1000)
  if is_group then
    redis.call('ZADD', k[3], slot, ms(slot))
    redis.call('PEXPIRE', k[3], math.ceil(slot - now + group_window) + 1000)
  end
  return 1, slot - now
end
"""

# KEYS and ARGV as ``reserve``'s k and a. Returns {granted (0/1), delay ms as a string}.
_RESERVE = (
    _CLOCK
    + _RESERVE_FN
    + """
local granted, delay = reserve(KEYS, ARGV)
return {granted, ms(delay)}
"""
)

# KEYS: chat pause, global pause, recent 429s. ARGV: chat id, retry_after ms,
# chats for a global pause, their window ms. Returns "chat" or "global".
_REPORT_429 = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local retry = tonumber(ARGV[2])
local ends = now + retry

local function extend(key)
  -- Never shorten a pause another process set from a longer retry_after.
  local current = tonumber(redis.call('GET', key) or '0') or 0
  if ends > current then
    redis.call('SET', key, string.format('%.3f', ends), 'PX', math.ceil(retry))
  end
end

extend(KEYS[1])
redis.call('ZADD', KEYS[3], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[4]))
redis.call('PEXPIRE', KEYS[3], math.ceil(tonumber(ARGV[4])))
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[3]) then
  extend(KEYS[2])
  return 'global'
end
return 'chat'
"""

# k: global sent log, global pause, chat pause, chat in flight, chat answered
# TAT, group sent log. a: global limit, global window ms, in-flight ms,
# member, poll ms, chat interval ms, chat tolerance ms, is group (0/1), group
# limit, group window ms. Returns the status and the delay in ms (a string):
# 1 go now (the request is entered as in flight), 0 not yet (ask again after
# the delay), 2 paused (reserve again: the pause may be long).
_GATE_FN = """
local function gate(k, a)
  local in_flight = tonumber(a[3])
  local member = a[4]
  local poll = a[5]

  -- A sent log holds answer times, and "now + in_flight" for requests in flight.
  -- Returns nil if one more request fits in the window, else the wait.
  local function window_wait(key, limit, window)
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
    local n = redis.call('ZCARD', key)
    if n < limit then
      return nil
    end
    local entry = redis.call('ZRANGE', key, n - limit, n - limit, 'WITHSCORES')
    local answered = tonumber(entry[2])
    if answered > now then
      return poll  -- still in flight: its answer will tell
    end
    return ms(answered + window - now)
  end
  local function log_in_flight(key, window)
    redis.call('ZADD', key, now + in_flight, member)
    redis.call('PEXPIRE', key, math.ceil(in_flight + window) + 1000)
  end

  local paused = math.max(stored(k[2]), stored(k[3]))
  if paused > now then
    return 2, ms(paused - now)
  end
  -- One request per chat in flight, so the chat's bucket (below) knows every
  -- earlier request's answer time.
  local flying = redis.call('GET', k[4])
  if flying and flying ~= member then
    return 0, poll
  end
  local ready = stored(k[5]) - tonumber(a[7])
  if ready > now then
    return 0, ms(ready - now)
  end
  local is_group = a[8] == '1'
  local group_window = tonumber(a[10])
  if is_group then
    local wait = window_wait(k[6], tonumber(a[9]), group_window)
    if wait then
      return 0, wait
    end
  end
  local global_window = tonumber(a[2])
  local wait = window_wait(k[1], tonumber(a[1]), global_window)
  if wait then
    return 0, wait
  end

  redis.call('SET', k[4], member, 'PX', math.ceil(in_flight))
  log_in_flight(k[1], global_window)
  if is_group then
    log_in_flight(k[6], group_window)
  end
  return 1, '0'
end
"""

# KEYS and ARGV as ``gate``'s k and a. Returns {status, delay ms as a string}.
_GATE = (
    _CLOCK
    + _GATE_FN
    + """
local status, delay = gate(KEYS, ARGV)
return {status, delay}
"""
)

# Reserve, and when the slot is now, pass the gate in the same step: what
# ``reserve`` then ``gate`` do back to back, in one round trip. KEYS: global
# next slot, chat TAT, group window, global pause, chat pause, global sent
# log, chat in flight, chat answered TAT, group sent log, a key that must not
# exist. ARGV: reserve's 8, then global limit, global window ms, in-flight ms,
# member, poll ms, group window ms (unstretched, the gate's), and "1" to
# check the last key. Returns {-1, '0'} when that key exists (nothing
# taken); {granted, delay} when not granted or the slot is later (gate then);
# {1, '0', gate status, gate delay} when the gate was tried.
_ACQUIRE = (
    _CLOCK
    + _RESERVE_FN
    + _GATE_FN
    + """
if ARGV[15] == '1' and redis.call('EXISTS', KEYS[10]) == 1 then
  return {-1, '0'}
end
local granted, delay = reserve({KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]},
  {ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]})
if granted == 0 or delay > 0 then
  return {granted, ms(delay)}
end
local status, wait = gate({KEYS[6], KEYS[4], KEYS[5], KEYS[7], KEYS[8], KEYS[9]},
  {ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13], ARGV[3], ARGV[4], ARGV[5], ARGV[6],
   ARGV[14]})
return {1, '0', status, wait}
"""
)

# KEYS: global sent log, chat in flight, chat answered TAT, group sent log,
# and a hash to record in (unused without ARGV[3]). ARGV: member, chat
# interval ms, then optionally field, value, TTL ms for that hash. The
# answer (or error) is in: score the request with its time, and count it in
# the chat's bucket at that time; and, in the same step, record what was
# sent (``shared.sender``'s ``bot:sent:{key}``).
_RELEASE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local member = ARGV[1]
redis.call('ZADD', KEYS[1], 'XX', now, member)
redis.call('ZADD', KEYS[4], 'XX', now, member)
local tat = math.max(tonumber(redis.call('GET', KEYS[3]) or '0') or 0, now)
tat = tat + tonumber(ARGV[2])
redis.call('SET', KEYS[3], string.format('%.3f', tat), 'PX', math.ceil(tat - now) + 1000)
if redis.call('GET', KEYS[2]) == member then
  redis.call('DEL', KEYS[2])
end
if ARGV[3] then
  redis.call('HSET', KEYS[5], ARGV[3], ARGV[4])
  redis.call('PEXPIRE', KEYS[5], ARGV[5])
end
return 1
"""

# KEYS: chat pause, global pause. Returns the ms left of the longer one.
_PAUSE_LEFT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local ends = 0
for _, key in ipairs(KEYS) do
  ends = math.max(ends, tonumber(redis.call('GET', key) or '0') or 0)
end
return string.format('%.3f', math.max(0, ends - now))
"""

_GO, _WINDOW_FULL, _PAUSED = 1, 0, 2
MIN_SLEEP_S = 0.001


class FloodBudget(msgspec.Struct, frozen=True, kw_only=True):
    """Telegram's limits as this bot spends them; see the module docstring."""

    global_per_s: float = 30.0
    chat_per_s: float = 1.0
    chat_burst: int = 2
    group_limit: int = 20
    group_window_s: float = 60.0
    safety: float = 0.97
    """Fraction of the global rate used (and group window stretch), for jitter."""
    preview_group_reserve: int = 5
    """Sends a group's window must keep for final messages before a preview goes."""
    global_pause_chats: int = 2
    global_pause_window_s: float = 2.0
    global_window_s: float = 1.0
    """The window Telegram's global limit is counted over: ``global_per_s`` per window."""
    in_flight_s: float = 10.0
    """How long a request with no answer (its process died) counts in the window."""
    poll_s: float = 0.005
    """How soon to look again when the window is full of requests still in flight."""

    def __post_init__(self) -> None:
        positive = {
            "global_per_s": self.global_per_s,
            "chat_per_s": self.chat_per_s,
            "group_window_s": self.group_window_s,
            "global_pause_window_s": self.global_pause_window_s,
            "global_window_s": self.global_window_s,
            "in_flight_s": self.in_flight_s,
            "poll_s": self.poll_s,
        }
        for name, value in positive.items():
            if not value > 0:
                raise ValueError(f"{name} must be positive, got {value}")
        if self.global_limit < 1:
            raise ValueError("global_per_s * global_window_s must be >= 1")
        if self.chat_burst < 1 or self.group_limit < 1 or self.global_pause_chats < 1:
            raise ValueError("chat_burst, group_limit and global_pause_chats must be >= 1")
        if not 0 < self.safety <= 1:
            raise ValueError(f"safety must be in (0, 1], got {self.safety}")

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> FloodBudget:
        """The budget of ``TELEGRAM_RATE_GLOBAL_PER_S`` and ``TELEGRAM_RATE_CHAT_PER_S``."""
        return cls(
            global_per_s=settings.telegram_rate_global_per_s,
            chat_per_s=settings.telegram_rate_chat_per_s,
        )

    @property
    def global_limit(self) -> int:
        """Requests allowed in any global window (30 in 1 s by default)."""
        return math.floor(self.global_per_s * self.global_window_s + 1e-9)

    @property
    def global_interval_ms(self) -> float:
        return 1000.0 / (self.global_per_s * self.safety)

    @property
    def chat_interval_ms(self) -> float:
        return 1000.0 / self.chat_per_s

    @property
    def chat_tolerance_ms(self) -> float:
        return (self.chat_burst - 1) * self.chat_interval_ms

    @property
    def group_window_ms(self) -> float:
        return self.group_window_s * 1000.0 / self.safety


class Grant(msgspec.Struct, frozen=True):
    """The limiter's answer: a slot ``delay_s`` from now, or ask again after ``delay_s``."""

    granted: bool
    delay_s: float


class Ticket(msgspec.Struct, frozen=True):
    """A request let through the gate; release it when its answer (or error) is in."""

    chat_id: int
    member: str


class Record(msgspec.Struct, frozen=True):
    """A hash field to write with a release, in the same step: ``HSET key field value``,
    then the hash's TTL set to ``ttl_ms`` (``shared.sender``'s record of a sent part)."""

    key: str
    field: str
    value: str
    ttl_ms: int


class PauseScope(msgspec.Struct, frozen=True):
    """What a 429 paused: ``"chat"`` or ``"global"`` (every chat), for how long."""

    scope: str
    seconds: float


class FloodLimiter:
    """Grants send slots from the budget shared in Redis; see the module docstring."""

    def __init__(
        self, redis: aioredis.Redis, budget: FloodBudget | None = None, *, prefix: str = PREFIX
    ) -> None:
        self.redis = redis
        self.budget = budget or FloodBudget()
        self.prefix = prefix
        self._reserve = redis.register_script(_RESERVE)
        self._report = redis.register_script(_REPORT_429)
        self._pause_left = redis.register_script(_PAUSE_LEFT)
        self._gate_script = redis.register_script(_GATE)
        self._release = redis.register_script(_RELEASE)
        self._acquire = redis.register_script(_ACQUIRE)
        self._tag = secrets.token_hex(4)
        self._sequence = itertools.count()

    # ---- keys

    def global_key(self) -> str:
        return f"{self.prefix}global"

    def chat_key(self, chat_id: int) -> str:
        return f"{self.prefix}chat:{chat_id}"

    def group_key(self, chat_id: int) -> str:
        return f"{self.prefix}group:{chat_id}"

    def global_pause_key(self) -> str:
        return f"{self.prefix}pause"

    def chat_pause_key(self, chat_id: int) -> str:
        return f"{self.prefix}pause:{chat_id}"

    def hits_key(self) -> str:
        return f"{self.prefix}recent429"

    def sent_key(self) -> str:
        return f"{self.prefix}sent"

    def group_sent_key(self, chat_id: int) -> str:
        return f"{self.prefix}sent:{chat_id}"

    def flight_key(self, chat_id: int) -> str:
        return f"{self.prefix}flight:{chat_id}"

    def answered_key(self, chat_id: int) -> str:
        return f"{self.prefix}answered:{chat_id}"

    # ---- slots

    async def reserve(self, chat_id: int) -> Grant:
        """Take the next slot that suits ``chat_id``, or learn when to ask again."""
        return await self._run_reserve(chat_id, "wait")

    async def acquire(self, chat_id: int) -> Ticket:
        """Wait until one request to ``chat_id`` may go now; release the ticket after it.

        The sleeps here are the rate limit itself: a slot's time, a chat's
        next token, a pause after a 429, room in the global window.
        """
        ticket = await self._acquire_ticket(chat_id, None)
        assert ticket is not None  # only a key to check can refuse
        return ticket

    async def acquire_unless(self, chat_id: int, key: str) -> Ticket | None:
        """:meth:`acquire`, or None (nothing taken) if ``key`` exists when a slot is granted.

        The check and the grant are one step, so the answer is as good as a
        read of ``key`` made just before an :meth:`acquire`, one round trip
        cheaper (``shared.sender`` checks that nothing was sent under a key yet).
        """
        return await self._acquire_ticket(chat_id, key)

    async def _acquire_ticket(self, chat_id: int, unless: str | None) -> Ticket | None:
        while True:
            # Reserve, and pass the gate in the same step when the slot is now.
            ticket = Ticket(chat_id, self._new_member())
            reply = await self._run_acquire(ticket, "wait", unless)
            granted, delay_s = int(reply[0]), _delay_s(reply[1])
            if granted < 0:
                return None
            if not granted:
                await asyncio.sleep(max(delay_s, MIN_SLEEP_S))
                continue
            if len(reply) == 2:  # the slot is later: wait for it, then the gate
                await asyncio.sleep(delay_s)
                passed = await self._pass_gate(ticket)
            else:
                passed = await self._pass_gate(ticket, (int(reply[2]), _delay_s(reply[3])))
            if passed is not None:
                return passed
            # A 429 reported while this slot was coming: wait it out, then queue again.

    async def try_acquire(self, chat_id: int) -> Ticket | None:
        """A ticket for a preview if budget is free now with room to spare; never waits."""
        ticket = Ticket(chat_id, self._new_member())
        # Mode "now" grants only a slot that is now: the gate is tried in the same step.
        reply = await self._run_acquire(ticket, "now", None)
        if len(reply) < 4:
            return None
        return ticket if int(reply[2]) == _GO else None

    async def release(self, ticket: Ticket, *, record: Record | None = None) -> None:
        """The request's answer (or error) is in: it counts from now, by its answer's time.

        ``record`` is written in the same step (one round trip for both).
        """
        chat_id = ticket.chat_id
        args: list[str | int | float] = [ticket.member, self.budget.chat_interval_ms]
        if record is not None:
            args += [record.field, record.value, record.ttl_ms]
        await self._release(
            keys=[
                self.sent_key(),
                self.flight_key(chat_id),
                self.answered_key(chat_id),
                self.group_sent_key(chat_id),
                record.key if record is not None else self.sent_key(),
            ],
            args=args,
        )

    @asynccontextmanager
    async def slot(self, chat_id: int) -> AsyncIterator[Ticket]:
        """``acquire`` on entry, ``release`` on exit, whatever the request did."""
        ticket = await self.acquire(chat_id)
        try:
            yield ticket
        finally:
            await self.release(ticket)

    async def _pass_gate(
        self, ticket: Ticket, first: tuple[int, float] | None = None
    ) -> Ticket | None:
        """Wait for room in the global window; None if a pause came into force.

        ``first``: the gate's answer already in hand (tried with the reservation).
        """
        answer = first
        while True:
            status, delay_s = answer if answer is not None else await self._gate(ticket)
            if status == _GO:
                return ticket
            if status == _PAUSED:
                return None
            await asyncio.sleep(max(delay_s, MIN_SLEEP_S))
            answer = None

    async def _gate(self, ticket: Ticket) -> tuple[int, float]:
        chat_id = ticket.chat_id
        status, delay_ms = await self._gate_script(
            keys=[
                self.sent_key(),
                self.global_pause_key(),
                self.chat_pause_key(chat_id),
                self.flight_key(chat_id),
                self.answered_key(chat_id),
                self.group_sent_key(chat_id),
            ],
            args=self._gate_args(ticket),
        )
        return int(status), _delay_s(delay_ms)

    def _gate_args(self, ticket: Ticket) -> list[str | int | float]:
        b = self.budget
        return [
            b.global_limit,
            b.global_window_s * 1000.0,
            b.in_flight_s * 1000.0,
            ticket.member,
            b.poll_s * 1000.0,
            b.chat_interval_ms,
            b.chat_tolerance_ms,
            1 if is_group(ticket.chat_id) else 0,
            b.group_limit,
            b.group_window_s * 1000.0,
        ]

    def _new_member(self) -> str:
        # Unique across processes and hosts (a forked child gets its own pid).
        return f"{os.getpid()}:{self._tag}:{next(self._sequence)}"

    async def pause_left(self, chat_id: int) -> float:
        """Seconds until neither ``chat_id`` nor every chat is paused."""
        left = await self._pause_left(keys=[self.chat_pause_key(chat_id), self.global_pause_key()])
        return float(left) / 1000.0

    async def report_retry_after(self, chat_id: int, retry_after: float) -> PauseScope:
        """Pause ``chat_id`` (or every chat, by the rule above) for ``retry_after`` s."""
        b = self.budget
        scope = await self._report(
            keys=[self.chat_pause_key(chat_id), self.global_pause_key(), self.hits_key()],
            args=[
                chat_id,
                retry_after * 1000.0,
                b.global_pause_chats,
                b.global_pause_window_s * 1000.0,
            ],
        )
        result = PauseScope(_text(scope), float(retry_after))
        log.warning("flood_paused", chat_id=chat_id, scope=result.scope, retry_after=retry_after)
        return result

    async def _run_reserve(self, chat_id: int, mode: str) -> Grant:
        granted, delay_ms = await self._reserve(
            keys=self._reserve_keys(chat_id), args=self._reserve_args(chat_id, mode)
        )
        return Grant(bool(int(granted)), max(0.0, _delay_s(delay_ms)))

    async def _run_acquire(self, ticket: Ticket, mode: str, unless: str | None) -> list[Any]:
        chat_id, b = ticket.chat_id, self.budget
        reply: list[Any] = await self._acquire(
            keys=[
                *self._reserve_keys(chat_id),
                self.sent_key(),
                self.flight_key(chat_id),
                self.answered_key(chat_id),
                self.group_sent_key(chat_id),
                unless if unless is not None else self.sent_key(),
            ],
            args=[
                *self._reserve_args(chat_id, mode),
                b.global_limit,
                b.global_window_s * 1000.0,
                b.in_flight_s * 1000.0,
                ticket.member,
                b.poll_s * 1000.0,
                b.group_window_s * 1000.0,
                "1" if unless is not None else "0",
            ],
        )
        return reply

    def _reserve_keys(self, chat_id: int) -> list[str]:
        return [
            self.global_key(),
            self.chat_key(chat_id),
            self.group_key(chat_id),
            self.global_pause_key(),
            self.chat_pause_key(chat_id),
        ]

    def _reserve_args(self, chat_id: int, mode: str) -> list[str | int | float]:
        b = self.budget
        return [
            mode,
            b.global_interval_ms,
            b.chat_interval_ms,
            b.chat_tolerance_ms,
            1 if is_group(chat_id) else 0,
            b.group_limit,
            b.group_window_ms,
            b.preview_group_reserve,
        ]


def _delay_s(delay_ms: bytes | str) -> float:
    return float(_text(delay_ms)) / 1000.0


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def is_group(chat_id: int) -> bool:
    """Group and supergroup chats have negative ids; they get the 20-per-minute window."""
    return chat_id < 0


__all__ = [
    "PREFIX",
    "FloodBudget",
    "FloodLimiter",
    "Grant",
    "PauseScope",
    "Record",
    "Ticket",
    "is_group",
]
