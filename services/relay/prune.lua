-- Forget the users of a partition whose session expired (replies.py), fenced by the lease.
-- KEYS[1]  bot:lease:{p}
-- KEYS[2]  bot:active:{p}
-- KEYS[3]  bot:typing:{p}
-- ARGV[1]  this relay's identity
-- ARGV[2]  the session key prefix (session:)
-- ARGV[3…] user ids
-- Returns the user ids forgotten.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {} end
local removed = {}
for i = 3, #ARGV do
  local user = ARGV[i]
  if redis.call('EXISTS', ARGV[2] .. user) == 0 then
    -- The reply cursor stays: a reply the PO writes later is sent when the user is back.
    redis.call('SREM', KEYS[2], user)
    redis.call('HDEL', KEYS[3], user)
    removed[#removed + 1] = user
  end
end
return removed
