-- A user's /stop (control.py): cancel their current request, in one fenced step.
-- KEYS[1]  bot:lease:{p}
-- KEYS[2]  bot:fwd:{p}
-- KEYS[3]  bot:incoming:{p}
-- KEYS[4]  bot:pending:{user}
-- KEYS[5]  bot:cancelled:{user}
-- KEYS[6]  bot:cancelling:{p} (the partition's users with cancelled requests)
-- KEYS[7]  bot:typing:{p}
-- KEYS[8]  the PO's input stream
-- KEYS[9]  bot:acks:{user}
-- ARGV[1]  this relay's identity
-- ARGV[2]  the incoming entry id
-- ARGV[3]  the user id
-- ARGV[4]  the cancel entry's data for the PO, with @@CANCELS@@ where the request id goes
--          ('' when the profile cannot tell the PO)
-- ARGV[5]  how long the cancelled record lives, s
-- Returns {'lost'}, {'duplicate'}, {'idle'} (nothing to stop), or
-- {'cancelled', request id, requests still pending, PO input entry id or '',
-- the chat message whose 👀 goes now or ''}.
-- include: id_after.lua
-- include: control_step.lua
-- include: current_request.lua
local refused = control_begin(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
if refused then return refused end
control_end(KEYS[2], KEYS[3], ARGV[2])
local request = current_request(KEYS[4], KEYS[5])
if not request then return {'idle'} end

redis.call('SADD', KEYS[5], request)
redis.call('EXPIRE', KEYS[5], ARGV[5])
redis.call('SADD', KEYS[6], ARGV[3])
local input_id = ''
if ARGV[4] ~= '' then
  local data = string.gsub(ARGV[4], '@@CANCELS@@', request, 1)
  input_id = redis.call('XADD', KEYS[8], '*', 'data', data)
end
local left = 0
if current_request(KEYS[4], KEYS[5]) then
  left = redis.call('ZCARD', KEYS[4]) - redis.call('SCARD', KEYS[5])
else
  -- Nothing else is awaited: a relay taking the partition over shows no "typing…".
  redis.call('HDEL', KEYS[7], ARGV[3])
end
-- Its 👀 goes now: a PO that honours the stop writes no final to take it.
local ack = redis.call('HGET', KEYS[9], request) or ''
redis.call('HDEL', KEYS[9], request)
return {'cancelled', request, left, input_id, ack}
