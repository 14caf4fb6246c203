-- An admin pressed deny: pending -> denied in one step (services/ingress/access_store.py).
-- KEYS[1]  bot:access:req:{rid}   KEYS[2]  bot:access:user:{telegram_id}
-- KEYS[3]  bot:access:denied:{telegram_id}   KEYS[4]  bot:access:open
-- KEYS[5]  bot:access:queue   KEYS[6]  bot:access:outcomes   KEYS[7]  bot:audit
-- ARGV[1]  now (ms, the decision's time)   ARGV[2]  rid   ARGV[3]  ACCESS_REQUEST_COOLDOWN_S
-- ARGV[4]  the admin's Telegram id   ARGV[5]  the admin's name
-- ARGV[6]  the AccessOutcome (JSON)   ARGV[7]  the audit entry (JSON)   ARGV[8]  MAXLEN (~)
-- Returns {'denied'}, {'missing'}, {'busy', name} or {'decided', status, name, decided_ms}.
-- include: access_state.lua
local answer = settled(state(KEYS[1]), tonumber(ARGV[1]))
if answer then return answer end
redis.call('HSET', KEYS[1], 'status', 'denied', 'decided_by', ARGV[4], 'decided_by_name', ARGV[5],
  'decided_ms', ARGV[1], 'claim_until_ms', '0')
redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[3])
close(KEYS[2], ARGV[2], KEYS[4], KEYS[5], KEYS[6], ARGV[6], KEYS[7], ARGV[7], ARGV[8])
return {'denied'}
