-- Close a start watch (startwatch.py), fenced by the lease.
-- KEYS[1]  bot:lease:{p}
-- KEYS[2]  bot:watch:{p}
-- KEYS[3]  bot:spawn:{user}
-- KEYS[4]  bot:typing:{p}
-- ARGV[1]  this relay's identity
-- ARGV[2]  the user id
-- ARGV[3]  the watch's JSON as read (a newer watch is left alone)
-- ARGV[4]  the create's request_id: the spawn guard is lifted if it still holds it; or ''
-- ARGV[5]  '1': the user was told the start failed, drop their "typing…" record
-- Returns 1, or 0 when the lease is not this relay's.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[2], ARGV[2]) == ARGV[3] then redis.call('HDEL', KEYS[2], ARGV[2]) end
if ARGV[4] ~= '' and redis.call('GET', KEYS[3]) == ARGV[4] then redis.call('DEL', KEYS[3]) end
if ARGV[5] == '1' then redis.call('HDEL', KEYS[4], ARGV[2]) end
return 1
