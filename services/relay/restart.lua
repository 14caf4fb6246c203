-- A user's confirmed /new (control.py): stop their PO and drop the session, in one fenced step.
-- KEYS[1]  bot:lease:{p}
-- KEYS[2]  bot:fwd:{p}
-- KEYS[3]  bot:incoming:{p}
-- KEYS[4]  bot:pending:{user}
-- KEYS[5]  bot:cancelled:{user}
-- KEYS[6]  bot:cancelling:{p}
-- KEYS[7]  bot:typing:{p}
-- KEYS[8]  bot:restart:{user} (the last confirmation acted on)
-- KEYS[9]  session:{user}
-- KEYS[10] bot:spawn:{user}
-- KEYS[11] bot:watch:{p}
-- KEYS[12] worker:commands
-- KEYS[13] bot:acks:{user}
-- ARGV[1]  this relay's identity
-- ARGV[2]  the incoming entry id
-- ARGV[3]  the user id
-- ARGV[4]  the confirmation's message id
-- ARGV[5]  the delete command (JSON; '' when the profile spawns no worker)
-- ARGV[6]  the worker id (po-{user})
-- ARGV[7]  the worker status key prefix (worker:status:)
-- ARGV[8]  how long the cancelled record and the restart mark live, s
-- Returns {'lost'}, {'duplicate'}, {'stale'} (that confirmation was acted on), or
-- {'restarted', requests cancelled, 1 if a delete command was sent else 0, the chat
-- messages whose 👀 goes now...}.
-- include: id_after.lua
-- include: control_step.lua
-- include: read_status.lua
local refused = control_begin(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
if refused then return refused end
control_end(KEYS[2], KEYS[3], ARGV[2])
local mark = tonumber(redis.call('GET', KEYS[8]) or '0')
if mark >= tonumber(ARGV[4]) then return {'stale'} end
redis.call('SET', KEYS[8], ARGV[4], 'EX', ARGV[8])

local count = 0
for _, request in ipairs(redis.call('ZRANGE', KEYS[4], 0, -1)) do
  count = count + redis.call('SADD', KEYS[5], request)
end
if count > 0 then
  redis.call('EXPIRE', KEYS[5], ARGV[8])
  redis.call('SADD', KEYS[6], ARGV[3])
end

local deleted = 0
if ARGV[5] ~= '' then
  local worker = redis.call('GET', KEYS[9]) or ARGV[6]
  local alive = {RUNNING = true, STARTING = true, BUILDING = true, PAUSED = true}
  if redis.call('EXISTS', KEYS[9]) == 1 or alive[read_status(ARGV[7] .. worker)] then
    redis.call('XADD', KEYS[12], '*', 'data', ARGV[5])
    deleted = 1
  end
end
-- The next message spawns a fresh PO: no session, no create thought in flight.
redis.call('DEL', KEYS[9], KEYS[10])
redis.call('HDEL', KEYS[7], ARGV[3])
redis.call('HDEL', KEYS[11], ARGV[3])
local acks = redis.call('HVALS', KEYS[13])
redis.call('DEL', KEYS[13])
return {'restarted', count, deleted, unpack(acks)}
