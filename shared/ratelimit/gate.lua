-- The gate alone, at a reserved slot's time, just before the request.
-- KEYS[1] bot:flood:sent           the global log of answer times
-- KEYS[2] bot:flood:pause          every chat paused until
-- KEYS[3] bot:flood:pause:{id}     the chat paused until
-- KEYS[4] bot:flood:flight:{id}    the chat's request in flight
-- KEYS[5] bot:flood:answered:{id}  the chat's TAT (answers)
-- KEYS[6] bot:flood:sent:{id}      a group's log of answer times
-- KEYS[7] optional: a hash whose field ARGV[4] must not be set (checked
--         again here: it may have been set since the slot was reserved)
-- ARGV[1] the budget, JSON (shared/ratelimit/budget.py, ScriptBudget)
-- ARGV[2] member: this request's unique name
-- ARGV[3] '1' for a group chat, else '0'
-- ARGV[4] with KEYS[7]: the field
-- Returns {3, the field's value} when it is set (nothing taken, no request
-- in flight); else {status, delay ms as a string}, as gate() in gating.lua.
-- include: gating.lua

if KEYS[7] then
  local done = redis.call('HGET', KEYS[7], ARGV[4])
  if done then
    return {3, done}
  end
end

local status, delay = gate({
  sent = KEYS[1], global_pause = KEYS[2], chat_pause = KEYS[3],
  flight = KEYS[4], answered = KEYS[5], group_sent = KEYS[6],
}, cjson.decode(ARGV[1]), ARGV[2], ARGV[3] == '1')
return {status, delay}
