-- A 429: pause the chat for retry_after; when enough different chats got one
-- within the window, the global limit was hit: pause every chat too.
-- KEYS[1] bot:flood:pause:{id}     the chat paused until
-- KEYS[2] bot:flood:pause          every chat paused until
-- KEYS[3] bot:flood:recent429      recent 429s, chat id scored by time
-- ARGV[1] chat id
-- ARGV[2] retry_after, ms (may be 0)
-- ARGV[3] how many chats within the window make a global pause
-- ARGV[4] that window, ms (> 0, the budget checks it)
-- Returns 'chat' or 'global'.
-- include: clock.lua

-- A retry_after of 0 still pauses for 1 ms: PX 0 is an error ("invalid
-- expire time"), and a 1 ms pause is as good as none for the next send
-- while still marking that Telegram said stop.
local retry = math.max(tonumber(ARGV[2]), 1)
local ends = now + retry
local window = tonumber(ARGV[4])

local function extend(key)
  -- Never shorten a pause another process set from a longer retry_after.
  if ends > stored(key) then
    redis.call('SET', key, ms(ends), 'PX', math.ceil(retry))
  end
end

extend(KEYS[1])
redis.call('ZADD', KEYS[3], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - window)
redis.call('PEXPIRE', KEYS[3], math.ceil(window))
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[3]) then
  extend(KEYS[2])
  return 'global'
end
return 'chat'
