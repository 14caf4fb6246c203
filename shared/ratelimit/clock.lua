-- Helpers every flood-budget script starts with: Redis' clock, one clock for
-- every process. No KEYS or ARGV of its own.
--   now: Redis' time in ms (with microseconds).
--   stored(key): a number kept in a string key, 0 when missing.
--   ms(x): a time or duration in ms as a string, as the scripts store and return them.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000

local function stored(key)
  return tonumber(redis.call('GET', key) or '0') or 0
end

local function ms(x)
  return string.format('%.3f', x)
end
