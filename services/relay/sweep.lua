-- One chunk of the idle users' sweep (wakeups.py): who has PO output they were never sent?
-- KEYS[1]  bot:cursor:{p} (user -> the last output entry handled; kept for idle users)
-- KEYS[2]  bot:active:{p} (users the owner reads anyway)
-- ARGV[1]  the HSCAN cursor ('0' to start)
-- ARGV[2]  the HSCAN COUNT hint
-- ARGV[3]  the output stream name's prefix (worker:po: in seed)
-- ARGV[4]  its suffix (:output)
-- Returns {next HSCAN cursor ('0': done), user, ...}: the users not in bot:active:{p}
-- whose output stream has an entry after their cursor.
local scan = redis.call('HSCAN', KEYS[1], ARGV[1], 'COUNT', ARGV[2])
local found = {scan[1]}
local fields = scan[2]
for i = 1, #fields, 2 do
  local user, cursor = fields[i], fields[i + 1]
  if redis.call('SISMEMBER', KEYS[2], user) == 0 then
    -- '(' excludes the cursor itself: only an entry after it comes back.
    local newer = redis.call('XREVRANGE', ARGV[3] .. user .. ARGV[4], '+', '(' .. cursor, 'COUNT', 1)
    if newer[1] then found[#found + 1] = user end
  end
end
return found
