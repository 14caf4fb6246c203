-- An admin pressed approve: claim the request for the API write (services/ingress/access_store.py).
-- KEYS[1]  bot:access:req:{rid}
-- ARGV[1]  now (ms)   ARGV[2]  the claim's end (ms; also the claim's token)
-- ARGV[3]  the admin's Telegram id   ARGV[4]  the admin's name
-- Returns {'claimed'}, {'missing'}, {'busy', name} (another claim runs) or
-- {'decided', status, name, decided_ms}. Only 'claimed' changed anything.
-- include: access_state.lua
local answer = settled(state(KEYS[1]), tonumber(ARGV[1]))
if answer then return answer end
redis.call('HSET', KEYS[1], 'status', 'approving', 'claim_until_ms', ARGV[2],
  'decided_by', ARGV[3], 'decided_by_name', ARGV[4])
return {'claimed'}
