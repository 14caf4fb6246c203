-- Every admin has their card (or can never get it): the request leaves the queue.
-- KEYS[1]: bot:access:queue; KEYS[2]: bot:access:cards-claim:{rid}; KEYS[3]: bot:audit
-- ARGV[1]: rid; ARGV[2]: this notifier's claim token; ARGV[3]: the audit stream's MAXLEN (~)
-- ARGV[4..]: the audit entry's fields and values (event, rid, ...)
-- Returns 1, or 0 when the claim was lost meanwhile (its new holder finishes and audits).
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
local t = redis.call('TIME')
local entry = {}
for i = 4, #ARGV do entry[#entry + 1] = ARGV[i] end
entry[#entry + 1] = 'ms'
entry[#entry + 1] = tostring(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', unpack(entry))
return 1
