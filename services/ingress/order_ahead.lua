-- The latest update of the same user, earlier than this one, still in flight.
-- KEYS[1]: bot:inflight:{telegram_id} (see order_arrive.lua)
-- ARGV[1]: this update's id
-- Returns {member, its update id, ms until its mark expires}, or nil when no
-- earlier update is in flight. Expired marks met on the way are removed:
-- their replica died or is stuck, and nobody waits for them any more.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local earlier = redis.call('ZREVRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '-inf', 'WITHSCORES')
for i = 1, #earlier, 2 do
  local member = earlier[i]
  local expires = tonumber(string.match(member, '^(%d+):'))
  if expires ~= nil and expires > now then
    return {member, earlier[i + 1], expires - now}
  end
  redis.call('ZREM', KEYS[1], member)
end
return false
