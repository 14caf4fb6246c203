-- A po-service request is finished (pending_requests.py, for request_delivery.py):
-- answered and delivered, or given up.
-- Fenced by the lease; the answer's stream goes with it.
-- KEYS[1]  bot:lease:{p}
-- KEYS[2]  bot:po:queue:{user}
-- KEYS[3]  bot:po:req:{p}
-- KEYS[4]  bot:po:users:{p}
-- KEYS[5]  po:response:{request id}
-- KEYS[6]  bot:typing:{p}
-- KEYS[7]  bot:pending:{user}
-- KEYS[8]  bot:cancelled:{user}
-- KEYS[9]  bot:cancelling:{p}
-- KEYS[10] bot:acks:{user}
-- ARGV[1]  this relay's identity
-- ARGV[2]  the user id
-- ARGV[3]  the request id
-- Returns {1, ack} done (ack: the chat message reacted to, or ''), {0, ''} the lease
-- is not this relay's.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {0, ''} end
redis.call('LREM', KEYS[2], 0, ARGV[3])
redis.call('HDEL', KEYS[3], ARGV[3])
redis.call('DEL', KEYS[5])
if redis.call('LLEN', KEYS[2]) == 0 then
  -- Nothing pending: no "typing…" for a relay that takes the partition over.
  redis.call('SREM', KEYS[4], ARGV[2])
  redis.call('HDEL', KEYS[6], ARGV[2])
end
redis.call('ZREM', KEYS[7], ARGV[3])
if redis.call('SREM', KEYS[8], ARGV[3]) == 1 and redis.call('SCARD', KEYS[8]) == 0 then
  redis.call('SREM', KEYS[9], ARGV[2])
end
local ack = redis.call('HGET', KEYS[10], ARGV[3])
if ack then
  redis.call('HDEL', KEYS[10], ARGV[3])
  return {1, ack}
end
return {1, ''}
