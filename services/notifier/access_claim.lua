-- Take the oldest access request whose admins' cards are due (services/notifier/access_cards.py).
-- KEYS[1]: bot:access:queue (rid -> request ms; cards not all sent yet)
-- KEYS[2]: bot:access:sent (rid -> ms its cards were first taken: the hourly cap counts here)
-- ARGV[1]: the key prefix, bot:access: (request hashes req:{rid}, claims cards-claim:{rid})
-- ARGV[2]: the cap's window, ms; ARGV[3]: the cap (requests per window)
-- ARGV[4]: how long a claim holds, ms; ARGV[5]: this notifier's claim token
-- ARGV[6]: how many queued requests to look at, at most
-- Returns {'claimed', rid, 'new' or 'resumed', hash field, value, ...}; {'wait', ms} when the
-- cap is reached (ms: until the window frees a place); {'idle'} when nothing is due.
-- A request claimed by another notifier is passed over. One decided (or gone) before any
-- card was taken is dropped from the queue: nothing to send. One taken before (its claim
-- expired: a crash, or a failure waiting for its retry) is taken again without counting
-- twice. Redis's clock (TIME) is the only clock, whichever notifier calls.
local prefix = ARGV[1]
local window = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cutoff = now - window
-- Forget what left the window, unless its cards are still being sent (kept: not new).
for _, rid in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. cutoff, 'LIMIT', 0, 100)) do
  if not redis.call('ZSCORE', KEYS[1], rid) then
    redis.call('ZREM', KEYS[2], rid)
  end
end
for _, rid in ipairs(redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[6]) - 1)) do
  local claim = prefix .. 'cards-claim:' .. rid
  if redis.call('EXISTS', claim) == 0 then
    local request = prefix .. 'req:' .. rid
    local status = redis.call('HGET', request, 'status')
    local taken = redis.call('ZSCORE', KEYS[2], rid)
    if not status or (not taken and status ~= 'pending' and status ~= 'approving') then
      redis.call('ZREM', KEYS[1], rid)
    else
      local kind = 'resumed'
      if not taken then
        if redis.call('ZCOUNT', KEYS[2], cutoff, '+inf') >= cap then
          local oldest = redis.call('ZRANGEBYSCORE', KEYS[2], cutoff, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
          return {'wait', math.max(1, tonumber(oldest[2]) + window - now)}
        end
        redis.call('ZADD', KEYS[2], now, rid)
        kind = 'new'
      end
      redis.call('SET', claim, ARGV[5], 'PX', ARGV[4])
      local reply = {'claimed', rid, kind}
      for _, item in ipairs(redis.call('HGETALL', request)) do
        reply[#reply + 1] = item
      end
      return reply
    end
  end
end
return {'idle'}
