-- The API write of an approval failed: the request is pending again (services/ingress/access_store.py).
-- KEYS[1]  bot:access:req:{rid}
-- ARGV[1]  the claim's token (its claim_until_ms)
-- Returns 1 if released; 0 if the claim was no longer this one (expired and taken, decided).
local h = redis.call('HMGET', KEYS[1], 'status', 'claim_until_ms')
if h[1] ~= 'approving' or h[2] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'status', 'pending', 'claim_until_ms', '0',
  'decided_by', '0', 'decided_by_name', '')
return 1
