-- An update of one user is in flight: mark it before anything slow is done for it.
-- KEYS[1]: bot:inflight:{telegram_id}, a sorted set: score the update id, member
--          "{expires_ms}:{nonce}" (expires_ms in Redis server time, milliseconds)
-- ARGV[1]: the update id
-- ARGV[2]: a nonce unique to this arrival (one update can arrive twice)
-- ARGV[3]: how long the mark lasts if it is never removed (ms)
-- Returns the member added.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local member = string.format('%.0f', now + tonumber(ARGV[3])) .. ':' .. ARGV[2]
redis.call('ZADD', KEYS[1], ARGV[1], member)
-- Every member expires before the key does: the same TTL, the latest arrival.
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return member
