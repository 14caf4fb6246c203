-- Skip what the PO wrote to a user the API no longer knows (wakeups.py), fenced by the lease.
-- KEYS[1]  bot:lease:{p}
-- KEYS[2]  bot:cursor:{p}
-- KEYS[3]  the user's output stream
-- ARGV[1]  this relay's identity
-- ARGV[2]  the user id
-- ARGV[3]  at most this many entries per call (the next sweep goes on)
-- Returns the number of entries skipped (the cursor is now on the last), or -1: not our lease.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local cursor = redis.call('HGET', KEYS[2], ARGV[2]) or '0-0'
local skipped, last, limit = 0, nil, tonumber(ARGV[3])
repeat
  local page = redis.call('XRANGE', KEYS[3], '(' .. (last or cursor), '+', 'COUNT', 100)
  for _, entry in ipairs(page) do
    skipped = skipped + 1
    last = entry[1]
  end
until #page < 100 or skipped >= limit
if last then redis.call('HSET', KEYS[2], ARGV[2], last) end
return skipped
