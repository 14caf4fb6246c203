-- An update was stored or dropped: unmark it, and wake whoever waits for it.
-- KEYS[1]: bot:inflight:{telegram_id} (see order_arrive.lua)
-- KEYS[2]: bot:inflight:done:{member}, a list the later updates block on
--          (BLMOVE onto itself: the element stays, so every waiter wakes)
-- ARGV[1]: the member; ARGV[2]: its update id
-- ARGV[3]: how long the wake-up stays for a waiter not yet blocking (ms)
redis.call('ZREM', KEYS[1], ARGV[1])
-- A later update that could wait for this one is marked already (it marks
-- itself before it looks): with none, nobody is woken and nothing is written.
if redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[2], '+inf') > 0 then
  redis.call('RPUSH', KEYS[2], '1')
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return 1
