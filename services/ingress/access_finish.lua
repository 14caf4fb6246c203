-- The API created the user: approving -> approved (services/ingress/access_store.py).
-- KEYS[1]  bot:access:req:{rid}   KEYS[2]  bot:access:user:{telegram_id}
-- KEYS[3]  bot:access:open   KEYS[4]  bot:access:queue   KEYS[5]  bot:access:outcomes
-- KEYS[6]  bot:audit   KEYS[7]  bot:keyboard:{chat_id} (the stranger's keyboard session)
-- ARGV[1]  the claim's token (its claim_until_ms)   ARGV[2]  decided_ms   ARGV[3]  rid
-- ARGV[4]  the AccessOutcome (JSON)   ARGV[5]  the audit entry (JSON)   ARGV[6]  MAXLEN (~)
-- ARGV[7]  the keyboard session's TTL, s
-- Returns {'approved'}, or {'lost', status, name, decided_ms} when the claim is no longer
-- this one (it ran out and another press took or finished it): then nothing changed.
-- include: access_state.lua
local h = redis.call('HMGET', KEYS[1], 'status', 'claim_until_ms', 'decided_by_name', 'decided_ms')
if h[1] ~= 'approving' or h[2] ~= ARGV[1] then
  return {'lost', h[1] or '', h[3] or '', h[4] or '0'}
end
redis.call('HSET', KEYS[1], 'status', 'approved', 'decided_ms', ARGV[2], 'claim_until_ms', '0')
close(KEYS[2], ARGV[3], KEYS[3], KEYS[4], KEYS[5], ARGV[4], KEYS[6], ARGV[5], ARGV[6])
-- The notifier's "access granted" brings the keyboard: a keyboard session starts with it,
-- so the first message after approval does not get the keyboard's note a second time.
redis.call('SET', KEYS[7], ARGV[3], 'EX', ARGV[7])
return {'approved'}
