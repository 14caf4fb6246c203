-- Every admin has their card (or can never get it): the request leaves the queue.
-- KEYS[1]: bot:access:queue; KEYS[2]: bot:access:cards-claim:{rid}; KEYS[3]: bot:audit
-- ARGV[1]: rid; ARGV[2]: this notifier's claim token; ARGV[3]: the audit stream's MAXLEN (~)
-- ARGV[4]: the audit entry (AuditEntry JSON)
-- Returns 1, or 0 when the claim was lost meanwhile (its new holder finishes and audits).
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 'data', ARGV[4])
return 1
