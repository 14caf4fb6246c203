-- The answer (or error) is in: score the request with its time, count it in
-- the chat's bucket at that time, clear the chat's in-flight mark; and, in
-- the same step, optionally record what was sent (shared.sending's bot:sent:{key}).
-- KEYS[1] bot:flood:sent           the global log of answer times
-- KEYS[2] bot:flood:flight:{id}    the chat's request in flight
-- KEYS[3] bot:flood:answered:{id}  the chat's TAT (answers)
-- KEYS[4] bot:flood:sent:{id}      a group's log of answer times
-- KEYS[5] optional: the hash to record in
-- ARGV[1] member: the request's unique name
-- ARGV[2] the chat's interval, ms
-- ARGV[3], ARGV[4], ARGV[5] with KEYS[5]: field, value, the hash's TTL in ms
-- Returns 1.
-- include: clock.lua

local member = ARGV[1]
redis.call('ZADD', KEYS[1], 'XX', now, member)
redis.call('ZADD', KEYS[4], 'XX', now, member)
local tat = math.max(stored(KEYS[3]), now) + tonumber(ARGV[2])
redis.call('SET', KEYS[3], ms(tat), 'PX', math.ceil(tat - now) + 1000)
if redis.call('GET', KEYS[2]) == member then
  redis.call('DEL', KEYS[2])
end
if KEYS[5] then
  redis.call('HSET', KEYS[5], ARGV[3], ARGV[4])
  redis.call('PEXPIRE', KEYS[5], ARGV[5])
end
return 1
