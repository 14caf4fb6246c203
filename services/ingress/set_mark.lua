-- Sets an answer's "only if new" mark just before it goes out
-- (services/ingress/courier.py). What SET NX GET does, for Redis before 7.
-- KEYS[1]: the mark's key.
-- ARGV[1]: the answer's id; ARGV[2]: the mark's TTL (s).
-- Returns 1 when the answer goes out (the mark was not set, or holds this
-- very answer's id: sent again after a crash), 0 when another answer holds it.
local before = redis.call('GET', KEYS[1])
if not before then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return 1
end
if before == ARGV[1] then
  return 1
end
return 0
