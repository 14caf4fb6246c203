-- Reserve a slot and, when the slot is now, pass the gate in the same step:
-- reserve() then gate() back to back, one round trip.
-- KEYS[1] bot:flood:global         the next free global slot
-- KEYS[2] bot:flood:chat:{id}      the chat's TAT (reservations)
-- KEYS[3] bot:flood:group:{id}     a group's reserved slots
-- KEYS[4] bot:flood:pause          every chat paused until
-- KEYS[5] bot:flood:pause:{id}     the chat paused until
-- KEYS[6] bot:flood:sent           the global log of answer times
-- KEYS[7] bot:flood:flight:{id}    the chat's request in flight
-- KEYS[8] bot:flood:answered:{id}  the chat's TAT (answers)
-- KEYS[9] bot:flood:sent:{id}      a group's log of answer times
-- KEYS[10] optional: a hash whose field ARGV[5] must not be set (nothing is
--          taken if it is: the request was done before, bot:sent:{key})
-- ARGV[1] the budget, JSON (shared/ratelimit/budget.py, ScriptBudget)
-- ARGV[2] mode: 'wait' (a final message) or 'now' (a preview)
-- ARGV[3] member: this request's unique name
-- ARGV[4] '1' for a group chat, else '0'
-- ARGV[5] with KEYS[10]: the field
-- Returns {-1, the field's value} when it is set (nothing taken); {granted, delay ms}
-- when not granted or the slot is later (gate then); {1, '0', gate status,
-- gate delay ms} when the gate was tried.
-- include: clock.lua
-- include: reservation.lua
-- include: gating.lua

if KEYS[10] then
  local done = redis.call('HGET', KEYS[10], ARGV[5])
  if done then
    return {-1, done}
  end
end
local budget = cjson.decode(ARGV[1])
local member = ARGV[3]
local is_group = ARGV[4] == '1'
local granted, delay = reserve({
  next_slot = KEYS[1], chat_tat = KEYS[2], group_slots = KEYS[3],
  global_pause = KEYS[4], chat_pause = KEYS[5],
}, budget, ARGV[2], is_group)
if granted == 0 or delay > 0 then
  return {granted, ms(delay)}
end
local status, wait = gate({
  sent = KEYS[6], global_pause = KEYS[4], chat_pause = KEYS[5],
  flight = KEYS[7], answered = KEYS[8], group_sent = KEYS[9],
}, budget, member, is_group)
return {1, '0', status, wait}
