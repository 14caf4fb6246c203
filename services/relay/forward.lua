-- Forward one chat message to its user's PO (sessions.py), in one atomic, fenced step.
-- KEYS[1]  bot:lease:{p}
-- KEYS[2]  bot:fwd:{p} (the last entry of bot:incoming:{p} forwarded)
-- KEYS[3]  session:{user}
-- KEYS[4]  bot:spawn:{user} (a create in flight)
-- KEYS[5]  worker:commands
-- KEYS[6]  the PO's input stream (the contract's: worker:po:{user}:input in seed)
-- KEYS[7]  bot:chat:{user}
-- KEYS[8]  bot:active:{p}
-- KEYS[9]  bot:cursor:{p}
-- KEYS[10] the PO's output stream (the contract's: worker:po:{user}:output in seed)
-- KEYS[11] bot:watch:{p}
-- KEYS[12] bot:typing:{p}
-- KEYS[13] bot:incoming:{p}
-- KEYS[14] bot:pending:{user} (the requests awaiting their final reply)
-- KEYS[15] bot:acks:{user} (request -> the chat message reacted to)
-- KEYS[16] bot:cancelled:{user}
-- KEYS[17] bot:chats:{p} (the user's last chat, kept after the session: wakeups.py)
-- KEYS[18] bot:albums:{user} (album -> 'first last': the parts forwarded as one message)
-- ARGV[1]  this relay's identity
-- ARGV[2]  the incoming entry id
-- ARGV[3]  the user id
-- ARGV[4]  the worker id for a spawn (po-{user})
-- ARGV[5]  the session's TTL, s
-- ARGV[6]  the chat id
-- ARGV[7]  the PO input entry's data field (JSON, in the contract's shape)
-- ARGV[8]  the CreateWorkerCommand (JSON)
-- ARGV[9]  the create's request_id
-- ARGV[10] the PO start timeout, ms (the spawn guard's TTL, the watch's deadline)
-- ARGV[11] the worker status key prefix (worker:status:)
-- ARGV[12] the "typing…" cap, ms
-- ARGV[13] the request id the PO input carries
-- ARGV[14] the chat message's id, to react to ('' : no reaction)
-- ARGV[15] the input entry's data marked as guidance (BUSY_POLICY=steer), used instead of
--          ARGV[7] while an earlier request is still awaited ('' : never)
-- ARGV[16] the album whose later parts this message carries ('' : none)
-- ARGV[17] its record: 'first last' (the entry ids of its first and last part)
-- Returns {'lost'}; {'duplicate', last forwarded, reply cursor, watch};
-- or {'forwarded', worker id, spawned (0/1), previous status, reply cursor, watch, input id}.
-- include: now_ms.lua
-- include: id_after.lua
-- include: read_status.lua
-- include: current_request.lua
local me, entry_id, user = ARGV[1], ARGV[2], ARGV[3]
if redis.call('GET', KEYS[1]) ~= me then return {'lost'} end
local last = redis.call('GET', KEYS[2])
if last and not id_after(entry_id, last) then
  -- What the first run set up, for a relay that did not hear its answer.
  local cursor = redis.call('HGET', KEYS[9], user) or ''
  local watch = redis.call('HGET', KEYS[11], user) or ''
  return {'duplicate', last, cursor, watch}
end

local worker = redis.call('GET', KEYS[3])
local status = ''
if worker then status = read_status(ARGV[11] .. worker) end
-- A worker coming up or paused is reused: never spawn a second one beside it.
local reusable = {RUNNING = true, STARTING = true, BUILDING = true, PAUSED = true}
local spawned, command_id = 0, ''
if not (worker and reusable[status]) then
  if redis.call('EXISTS', KEYS[4]) == 0 then
    command_id = redis.call('XADD', KEYS[5], '*', 'data', ARGV[8])
    redis.call('SET', KEYS[4], ARGV[9], 'PX', ARGV[10])
    spawned = 1
    worker = ARGV[4]
  end
  -- Else a create is in flight: the message waits in the input stream for it.
  worker = worker or ARGV[4]
end
redis.call('SET', KEYS[3], worker, 'EX', ARGV[5])
redis.call('SET', KEYS[7], ARGV[6], 'EX', ARGV[5])
redis.call('HSET', KEYS[17], user, ARGV[6])

redis.call('SADD', KEYS[8], user)
local cursor = redis.call('HGET', KEYS[9], user)
if not cursor then
  local newest = redis.call('XREVRANGE', KEYS[10], '+', '-', 'COUNT', 1)
  cursor = newest[1] and newest[1][1] or '0-0'
  redis.call('HSET', KEYS[9], user, cursor)
end

local watch = ''
if spawned == 1 or (status ~= 'RUNNING' and redis.call('HEXISTS', KEYS[11], user) == 0) then
  -- Numbers as strings: cjson keeps only 14 significant digits.
  watch = cjson.encode({
    request_id = spawned == 1 and ARGV[9] or '',
    command_id = command_id,
    deadline_ms = string.format('%d', now_ms() + tonumber(ARGV[10])),
    baseline = status,
    worker_id = worker,
    chat_id = ARGV[6],
  })
  redis.call('HSET', KEYS[11], user, watch)
end

-- "typing…" until the first reply: recorded for a relay that takes the partition over.
local typing_until = string.format('%d', now_ms() + tonumber(ARGV[12]))
redis.call('HSET', KEYS[12], user, ARGV[6] .. ':' .. typing_until)

local data = ARGV[7]
if ARGV[15] ~= '' and current_request(KEYS[14], KEYS[16]) then data = ARGV[15] end
local input_id = redis.call('XADD', KEYS[6], '*', 'data', data)
-- Awaited until its final reply: what /stop cancels and /status counts.
redis.call('ZADD', KEYS[14], 'NX', now_ms(), ARGV[13])
redis.call('EXPIRE', KEYS[14], ARGV[5])
if ARGV[14] ~= '' then
  redis.call('HSET', KEYS[15], ARGV[13], ARGV[14])
  redis.call('EXPIRE', KEYS[15], ARGV[5])
end
if ARGV[16] ~= '' then
  -- Its later parts are skipped when they reach the head (albums.py), by any owner.
  redis.call('HSET', KEYS[18], ARGV[16], ARGV[17])
  redis.call('EXPIRE', KEYS[18], ARGV[5])
end
redis.call('SET', KEYS[2], entry_id)
-- Nobody else trims the partition's stream: drop what is forwarded, never more
-- (MINID keeps this entry and every later one). Approximate: only whole nodes
-- of the stream go, so most calls remove nothing and cost next to nothing.
redis.call('XTRIM', KEYS[13], 'MINID', '~', entry_id)
return {'forwarded', worker, spawned, status, cursor, watch, input_id}
