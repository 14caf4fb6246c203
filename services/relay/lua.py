"""Lua helpers shared by the relay's scripts, and the bytes-to-text helpers for their replies.

Every write the relay makes on behalf of a partition goes through a Lua
script that first checks ``bot:lease:{p}`` still names this relay: the
check and the write are one atomic step, so a relay that lost its lease
(stalled past the TTL) cannot write next to the new owner.
"""

from __future__ import annotations

from typing import Any, Final

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

NOW_MS: Final = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""

ID_AFTER: Final = """
local function id_after(a, b)
  -- Whether stream id ``a`` comes after ``b``: "ms-seq", compared as numbers.
  local ams, aseq = string.match(a, '^(%d+)-(%d+)$')
  local bms, bseq = string.match(b, '^(%d+)-(%d+)$')
  ams, bms = tonumber(ams), tonumber(bms)
  if ams ~= bms then return ams > bms end
  return tonumber(aseq) > tonumber(bseq)
end
"""

READ_STATUS: Final = """
local function read_status(key)
  -- ``worker:status:{id}`` is a hash with field ``status``; an old
  -- worker-manager wrote a plain string. Either way: trimmed, upper case.
  local kind = redis.call('TYPE', key)['ok']
  local value = false
  if kind == 'hash' then
    value = redis.call('HGET', key, 'status')
  elseif kind == 'string' then
    value = redis.call('GET', key)
  end
  if not value then return '' end
  return string.upper((string.gsub(value, '^%s*(.-)%s*$', '%1')))
end
"""

OWNS: Final = """
local function owns(lease_key, identity)
  return redis.call('GET', lease_key) == identity
end
"""


def register(redis: aioredis.Redis, *parts: str) -> AsyncScript:
    """One script from helper parts and a body; redis-py reloads it after a Redis restart."""
    return redis.register_script("\n".join(parts))


def text(value: Any) -> str:
    """A Redis reply item as text (replies are bytes: the clients do not decode)."""
    if isinstance(value, bytes):
        return value.decode()
    return str(value)


def texts(values: Any) -> list[str]:
    return [text(value) for value in values or []]


def ints(values: Any) -> list[int]:
    return [int(value) for value in values or []]
