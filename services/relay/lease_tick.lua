-- One lease tick of one relay (leases.py): heartbeat, fair share, renew, acquire.
-- KEYS[1]  bot:relays (sorted set: live relay identity -> heartbeat expiry, Redis ms)
-- ARGV[1]  this relay's identity
-- ARGV[2]  the number of partitions
-- ARGV[3]  the lease TTL, ms
-- ARGV[4]  the lease key prefix (bot:lease:); partition p's lease is prefix .. p
-- ARGV[5]  '1': heartbeat and acquire; '0': a stopping relay, renew only
-- Returns {target, live relays, {renewed partitions}, {acquired partitions}}.
-- include: now_ms.lua
local me = ARGV[1]
local partitions = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local prefix = ARGV[4]
local acquiring = ARGV[5] == '1'
local now = now_ms()
-- A stopping relay (renewing only) has left the live set and stays out of it.
if acquiring then redis.call('ZADD', KEYS[1], now + ttl, me) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local live = redis.call('ZRANGE', KEYS[1], 0, -1)
table.sort(live)
local rank = 0
for i, name in ipairs(live) do
  if name == me then rank = i - 1 end
end
local n = #live
local target = 0
if n > 0 then
  target = math.floor(partitions / n)
  if rank < partitions % n then target = target + 1 end
end
local renewed, free = {}, {}
for p = 0, partitions - 1 do
  local key = prefix .. p
  local holder = redis.call('GET', key)
  if holder == me then
    redis.call('PEXPIRE', key, ttl)
    renewed[#renewed + 1] = p
  elseif not holder then
    free[#free + 1] = p
  end
end
local acquired = {}
local want = target - #renewed
if acquiring and want > 0 and #free > 0 then
  -- Start each relay at a different place, so two newcomers do not both
  -- want the same first free partition on their next ticks.
  local start = (rank * target) % #free
  for i = 0, #free - 1 do
    if #acquired >= want then break end
    local p = free[((start + i) % #free) + 1]
    redis.call('SET', prefix .. p, me, 'PX', ttl)
    acquired[#acquired + 1] = p
  end
end
return {target, n, renewed, acquired}
