-- A po-service request is finished (pending_requests.py, for request_delivery.py):
-- answered and delivered, or given up.
-- Fenced by the lease; the answer's stream goes with it.
-- KEYS[1]  bot:lease:{p}
-- KEYS[2]  bot:po:queue:{user}
-- KEYS[3]  bot:po:req:{p}
-- KEYS[4]  bot:po:users:{p}
-- KEYS[5]  po:response:{request id}
-- KEYS[6]  bot:typing:{p}
-- ARGV[1]  this relay's identity
-- ARGV[2]  the user id
-- ARGV[3]  the request id
-- Returns 1 done, 0 the lease is not this relay's.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('LREM', KEYS[2], 0, ARGV[3])
redis.call('HDEL', KEYS[3], ARGV[3])
redis.call('DEL', KEYS[5])
if redis.call('LLEN', KEYS[2]) == 0 then
  -- Nothing pending: no "typing…" for a relay that takes the partition over.
  redis.call('SREM', KEYS[4], ARGV[2])
  redis.call('HDEL', KEYS[6], ARGV[2])
end
return 1
