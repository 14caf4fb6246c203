-- The gate alone, at a reserved slot's time, just before the request.
-- KEYS[1] bot:flood:sent           the global log of answer times
-- KEYS[2] bot:flood:pause          every chat paused until
-- KEYS[3] bot:flood:pause:{id}     the chat paused until
-- KEYS[4] bot:flood:flight:{id}    the chat's request in flight
-- KEYS[5] bot:flood:answered:{id}  the chat's TAT (answers)
-- KEYS[6] bot:flood:sent:{id}      a group's log of answer times
-- ARGV[1] the budget, JSON (shared/ratelimit/budget.py, ScriptBudget)
-- ARGV[2] member: this request's unique name
-- ARGV[3] '1' for a group chat, else '0'
-- Returns {status, delay ms as a string}, as gate() in gating.lua.
-- include: gating.lua

local status, delay = gate({
  sent = KEYS[1], global_pause = KEYS[2], chat_pause = KEYS[3],
  flight = KEYS[4], answered = KEYS[5], group_sent = KEYS[6],
}, cjson.decode(ARGV[1]), ARGV[2], ARGV[3] == '1')
return {status, delay}
