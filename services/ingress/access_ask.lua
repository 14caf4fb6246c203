-- A stranger pressed "🙋 Запросить доступ": open ONE pending request (services/ingress/access_store.py).
-- KEYS[1]  bot:access:user:{telegram_id}    (the stranger's open request id)
-- KEYS[2]  bot:access:denied:{telegram_id}  (a denial's cooldown)
-- KEYS[3]  bot:access:req:{rid}             (the new request's hash)
-- KEYS[4]  bot:access:queue   KEYS[5]  bot:access:open   KEYS[6]  bot:audit
-- KEYS[7]  bot:access:first:{telegram_id}   (the first thing they wrote, if kept)
-- ARGV[1]  rid   ARGV[2]  created_ms   ARGV[3]  ACCESS_REQUEST_TTL_S
-- ARGV[4]  the hash's own TTL (s: longer, so a late press still learns who decided)
-- ARGV[5]  the audit entry (JSON)   ARGV[6]  the audit stream's MAXLEN (~)
-- ARGV[7..] the hash's fields and values, in pairs
-- Returns {'pending', rid} (an open request: nothing changed), {'denied'} (cooldown:
-- nothing changed) or {'created', rid}.
local open = redis.call('GET', KEYS[1])
if open then return {'pending', open} end
if redis.call('EXISTS', KEYS[2]) == 1 then return {'denied'} end
local fields = {}
for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[3], unpack(fields))
local first = redis.call('GET', KEYS[7])
if first then redis.call('HSET', KEYS[3], 'first_message', first) end
redis.call('EXPIRE', KEYS[3], ARGV[4])
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[2], ARGV[1])
redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[6], '*', 'data', ARGV[5])
return {'created', ARGV[1]}
