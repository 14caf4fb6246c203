-- Forward one chat message to the PO service (request_forwarder.py), in one atomic, fenced step:
-- the flat po:input entry, the request recorded as pending, bot:fwd:{p} moved.
-- KEYS[1]  bot:lease:{p}
-- KEYS[2]  bot:fwd:{p} (the last entry of bot:incoming:{p} forwarded)
-- KEYS[3]  po:input
-- KEYS[4]  bot:po:queue:{user} (the user's pending request ids, in order)
-- KEYS[5]  bot:po:req:{p} (request id -> user:chat:deadline_ms:state)
-- KEYS[6]  bot:po:users:{p}
-- KEYS[7]  bot:typing:{p}
-- KEYS[8]  bot:incoming:{p}
-- KEYS[9]  bot:chat:{user}
-- KEYS[10] bot:pending:{user} (what /stop cancels and /status counts)
-- KEYS[11] bot:acks:{user} (request -> the chat message reacted to)
-- KEYS[12] bot:albums:{user} (album -> 'first last': the parts forwarded as one message)
-- ARGV[1]  this relay's identity
-- ARGV[2]  the incoming entry id
-- ARGV[3]  the user id
-- ARGV[4]  the request id
-- ARGV[5]  the chat id
-- ARGV[6]  PO_REPLY_TIMEOUT_S, ms
-- ARGV[7]  the "typing…" cap, ms
-- ARGV[8]  the chat record's TTL, s
-- ARGV[9]  the chat message's id, to react to ('' : no reaction)
-- ARGV[10] the album whose later parts this message carries ('' : none)
-- ARGV[11] its record: 'first last' (the entry ids of its first and last part)
-- ARGV[12..] the po:input entry's fields, name then value
-- Returns {'lost'}; {'duplicate', last forwarded}; or {'forwarded', input id}.
-- include: now_ms.lua
-- include: id_after.lua
local me, entry_id, user, request_id = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if redis.call('GET', KEYS[1]) ~= me then return {'lost'} end
local last = redis.call('GET', KEYS[2])
if last and not id_after(entry_id, last) then return {'duplicate', last} end

local now = now_ms()
local fields = {}
for i = 12, #ARGV do fields[#fields + 1] = ARGV[i] end
local input_id = redis.call('XADD', KEYS[3], '*', unpack(fields))
redis.call('RPUSH', KEYS[4], request_id)
local deadline = string.format('%d', now + tonumber(ARGV[6]))
redis.call('HSET', KEYS[5], request_id, user .. ':' .. ARGV[5] .. ':' .. deadline .. ':wait')
redis.call('SADD', KEYS[6], user)
redis.call('SET', KEYS[9], ARGV[5], 'EX', ARGV[8])
redis.call('ZADD', KEYS[10], 'NX', now, request_id)
redis.call('EXPIRE', KEYS[10], ARGV[8])
if ARGV[9] ~= '' then
  redis.call('HSET', KEYS[11], request_id, ARGV[9])
  redis.call('EXPIRE', KEYS[11], ARGV[8])
end
-- "typing…" until the answer: recorded for a relay that takes the partition over.
local typing_until = string.format('%d', now + tonumber(ARGV[7]))
redis.call('HSET', KEYS[7], user, ARGV[5] .. ':' .. typing_until)

if ARGV[10] ~= '' then
  -- Its later parts are skipped when they reach the head (albums.py), by any owner.
  redis.call('HSET', KEYS[12], ARGV[10], ARGV[11])
  redis.call('EXPIRE', KEYS[12], ARGV[8])
end
redis.call('SET', KEYS[2], entry_id)
redis.call('XTRIM', KEYS[8], 'MINID', '~', entry_id)
return {'forwarded', input_id}
