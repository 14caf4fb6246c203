"""The flood limiter: send slots from the budget every process shares in Redis.

Each step is one atomic Lua script (the ``.lua`` files beside this module)
timed by Redis' own clock; how the steps fit is in docs/ARCHITECTURE.md,
"Flood budget".
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import os
import secrets
from typing import Any, Literal

import msgspec
import redis.asyncio as aioredis

from shared import scripts
from shared.connections import text
from shared.log import get_logger
from shared.ratelimit.budget import FloodBudget, ScriptBudget, is_group

log = get_logger(__name__)

PREFIX = "bot:flood:"
MIN_SLEEP_S = 0.001

Mode = Literal["wait", "now"]
"""``wait``: a final message, queued for its slot; ``now``: a preview, if the budget is idle."""


class _Gate(enum.IntEnum):
    """The gate's answers (``gating.lua``)."""

    NOT_YET = 0
    GO = 1
    PAUSED = 2
    DONE = 3
    """``gate.lua`` only: the field to check is set, nothing taken."""


class Ticket(msgspec.Struct, frozen=True):
    """A request let through the gate; release it when its answer (or error) is in."""

    chat_id: int
    member: str


class Record(msgspec.Struct, frozen=True):
    """A hash field to write with a release, in the same step: ``HSET key field value``,
    then the hash's TTL set to ``ttl_ms`` (``shared.sending``'s record of a sent part)."""

    key: str
    field: str
    value: str
    ttl_ms: int


class Done(msgspec.Struct, frozen=True):
    """:meth:`FloodLimiter.acquire_unless`: the field was set, nothing was taken; its value."""

    value: str


_Check = tuple[str, str]
"""A hash and a field that must not be set for a slot to be taken (``HGET``)."""


class PauseScope(msgspec.Struct, frozen=True):
    """What a 429 paused: ``"chat"`` or ``"global"`` (every chat), for how long."""

    scope: str
    seconds: float


class FloodLimiter:
    """Grants send slots from the budget shared in Redis."""

    def __init__(
        self, redis: aioredis.Redis, budget: FloodBudget | None = None, *, prefix: str = PREFIX
    ) -> None:
        self.redis = redis
        self.budget = budget or FloodBudget()
        self.prefix = prefix
        # Fixed for the limiter's life: encoded once, the scripts' ARGV[1].
        self._script_budget = ScriptBudget.of(self.budget).encode()
        self._acquire = scripts.register(redis, __file__, "acquire.lua")
        self._gate = scripts.register(redis, __file__, "gate.lua")
        self._release = scripts.register(redis, __file__, "release.lua")
        self._report = scripts.register(redis, __file__, "report_429.lua")
        self._pause_left = scripts.register(redis, __file__, "pause_left.lua")
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

    async def acquire(self, chat_id: int) -> Ticket:
        """Wait until one request to ``chat_id`` may go now; release the ticket after it.

        The sleeps here are the rate limit itself: a slot's time, a chat's
        next token, a pause after a 429, room in the global window.
        """
        ticket = await self._acquire_ticket(chat_id, None)
        assert isinstance(ticket, Ticket)  # only a field to check can refuse
        return ticket

    async def acquire_unless(self, chat_id: int, key: str, field: str) -> Ticket | Done:
        """:meth:`acquire`, unless the hash ``key`` has ``field`` set: then nothing is taken.

        Checked in the step that reserves the slot and again in the step that
        lets the request go (the gate), so a field set while the slot was
        coming (another process did the request meanwhile) is seen: no
        request goes once it is set. ``shared.sending`` checks that a part
        was not sent under its key yet; :class:`Done` holds its message id.
        """
        return await self._acquire_ticket(chat_id, (key, field))

    async def try_acquire(self, chat_id: int) -> Ticket | None:
        """A ticket for a preview if budget is free now with room to spare; never waits."""
        ticket = Ticket(chat_id, self._new_member())
        # Mode "now" grants only a slot that is now: the gate is tried in the same step.
        reply = await self._run_acquire(ticket, "now", None)
        if len(reply) < 4:
            return None
        return ticket if int(reply[2]) == _Gate.GO else None

    async def release(self, ticket: Ticket, *, record: Record | None = None) -> None:
        """The request's answer (or error) is in: it counts from now, by its answer's time.

        ``record`` is written in the same step (one round trip for both).
        """
        chat_id = ticket.chat_id
        keys = [
            self.sent_key(),
            self.flight_key(chat_id),
            self.answered_key(chat_id),
            self.group_sent_key(chat_id),
        ]
        args: list[str | int | float] = [ticket.member, self.budget.chat_interval_ms]
        if record is not None:
            keys.append(record.key)
            args += [record.field, record.value, record.ttl_ms]
        await self._release(keys=keys, args=args)

    async def _acquire_ticket(self, chat_id: int, unless: _Check | None) -> Ticket | Done:
        while True:
            # Reserve, and pass the gate in the same step when the slot is now.
            ticket = Ticket(chat_id, self._new_member())
            reply = await self._run_acquire(ticket, "wait", unless)
            granted = int(reply[0])
            if granted < 0:
                return Done(text(reply[1]))
            delay_s = _delay_s(reply[1])
            if not granted:
                await asyncio.sleep(max(delay_s, MIN_SLEEP_S))
                continue
            if len(reply) == 2:  # the slot is later: wait for it, then the gate
                await asyncio.sleep(delay_s)
                passed = await self._pass_gate(ticket, unless)
            else:
                first = (int(reply[2]), text(reply[3]))
                passed = await self._pass_gate(ticket, unless, first)
            if passed is not None:
                return passed
            # A 429 reported while this slot was coming: wait it out, then queue again.

    async def _pass_gate(
        self, ticket: Ticket, unless: _Check | None, first: tuple[int, str] | None = None
    ) -> Ticket | Done | None:
        """Wait for room in the global window; None if a pause came into force.

        ``first``: the gate's answer already in hand (tried with the reservation).
        """
        answer = first
        while True:
            status, value = answer if answer is not None else await self._run_gate(ticket, unless)
            if status == _Gate.GO:
                return ticket
            if status == _Gate.PAUSED:
                return None
            if status == _Gate.DONE:
                return Done(value)
            await asyncio.sleep(max(_delay_s(value), MIN_SLEEP_S))
            answer = None

    async def _run_gate(self, ticket: Ticket, unless: _Check | None) -> tuple[int, str]:
        """The gate's status and its delay in ms (:attr:`_Gate.DONE`: the field's value)."""
        chat_id = ticket.chat_id
        keys = [
            self.sent_key(),
            self.global_pause_key(),
            self.chat_pause_key(chat_id),
            self.flight_key(chat_id),
            self.answered_key(chat_id),
            self.group_sent_key(chat_id),
        ]
        args: list[bytes | str] = [self._script_budget, ticket.member, _flag(is_group(chat_id))]
        if unless is not None:
            keys.append(unless[0])
            args.append(unless[1])
        status, value = await self._gate(keys=keys, args=args)
        return int(status), text(value)

    async def _run_acquire(self, ticket: Ticket, mode: Mode, unless: _Check | None) -> list[Any]:
        chat_id = ticket.chat_id
        keys = [
            self.global_key(),
            self.chat_key(chat_id),
            self.group_key(chat_id),
            self.global_pause_key(),
            self.chat_pause_key(chat_id),
            self.sent_key(),
            self.flight_key(chat_id),
            self.answered_key(chat_id),
            self.group_sent_key(chat_id),
        ]
        args: list[bytes | str] = [
            self._script_budget,
            mode,
            ticket.member,
            _flag(is_group(chat_id)),
        ]
        if unless is not None:
            keys.append(unless[0])
            args.append(unless[1])
        reply: list[Any] = await self._acquire(keys=keys, args=args)
        return reply

    def _new_member(self) -> str:
        # Unique across processes and hosts (a forked child gets its own pid).
        return f"{os.getpid()}:{self._tag}:{next(self._sequence)}"

    # ---- pauses

    async def pause_left(self, chat_id: int) -> float:
        """Seconds until neither ``chat_id`` nor every chat is paused."""
        left = await self._pause_left(keys=[self.chat_pause_key(chat_id), self.global_pause_key()])
        return float(text(left)) / 1000.0

    async def report_retry_after(self, chat_id: int, retry_after: float) -> PauseScope:
        """Pause ``chat_id`` for ``retry_after`` s, or every chat if several chats got a 429."""
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
        result = PauseScope(text(scope), float(retry_after))
        log.warning("flood_paused", chat_id=chat_id, scope=result.scope, retry_after=retry_after)
        return result


def _flag(value: bool) -> str:
    return "1" if value else "0"


def _delay_s(delay_ms: object) -> float:
    return float(text(delay_ms)) / 1000.0
