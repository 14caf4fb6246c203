-- A po-service request passed PO_REPLY_TIMEOUT_S and its user was told
-- (pending_requests.py, for request_delivery.py):
-- it waits on as late, behind no one. Fenced by the lease.
-- KEYS[1]  bot:lease:{p}
-- KEYS[2]  bot:po:req:{p}
-- KEYS[3]  bot:typing:{p}
-- ARGV[1]  this relay's identity
-- ARGV[2]  the request id
-- ARGV[3]  its new record (user:chat:late_until_ms:late)
-- ARGV[4]  the user id
-- ARGV[5]  '1': no request of the user still waits, their "typing…" record goes
-- Returns 1 marked, 0 the lease is not this relay's (or the request is gone).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
if ARGV[5] == '1' then redis.call('HDEL', KEYS[3], ARGV[4]) end
return 1
