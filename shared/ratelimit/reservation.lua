-- reserve(k, budget, mode, is_group): take the next global slot that suits a
-- chat, or say when the chat will be ready. No KEYS or ARGV of its own.
--   k.next_slot    bot:flood:global        the next free global slot (ms)
--   k.chat_tat     bot:flood:chat:{id}     the chat's GCRA theoretical arrival time
--   k.group_slots  bot:flood:group:{id}    a group's slots in its window (sorted set)
--   k.global_pause bot:flood:pause         every chat paused until (ms)
--   k.chat_pause   bot:flood:pause:{id}    the chat paused until (ms)
--   budget         the decoded budget (shared/ratelimit/budget.py, ScriptBudget)
--   mode           'wait' (a final message) or 'now' (a preview: an idle budget only)
--   is_group       true for a group chat (its own sliding window)
-- Returns granted (0/1) and the delay in ms: granted, sleep the delay then
-- send; not granted, ask again after the delay ('now': not granted = skip).
-- include: clock.lua

local function reserve(k, budget, mode, is_group)
  local interval_c = budget.chat_interval_ms
  local tolerance_c = budget.chat_tolerance_ms
  local group_limit = budget.group_limit
  local group_window = budget.group_slot_window_ms

  local slot = math.max(now, stored(k.next_slot), stored(k.global_pause))
  local chat_tat = stored(k.chat_tat)
  local ready = math.max(chat_tat - tolerance_c, stored(k.chat_pause))
  local in_window = 0
  if is_group then
    redis.call('ZREMRANGEBYSCORE', k.group_slots, '-inf', now - group_window)
    in_window = redis.call('ZCARD', k.group_slots)
    if in_window >= group_limit then
      local oldest = redis.call('ZRANGE', k.group_slots, in_window - group_limit,
                                in_window - group_limit, 'WITHSCORES')
      ready = math.max(ready, tonumber(oldest[2]) + group_window)
    end
  end

  if mode == 'now' then
    -- A preview: only an idle global budget, and only if the chat keeps a
    -- token (and a group some sends) for the final message.
    local keeps_token = chat_tat - now <= tolerance_c - interval_c
    local keeps_group = (not is_group) or in_window + budget.preview_group_reserve < group_limit
    if slot > now or ready > now or not keeps_token or not keeps_group then
      return 0, 0
    end
  elseif ready > slot then
    return 0, ready - now
  end

  -- Every TTL is at least 1 s, so none can be 0.
  local next_slot = slot + budget.global_interval_ms
  redis.call('SET', k.next_slot, ms(next_slot), 'PX', math.ceil(next_slot - now) + 1000)
  local next_tat = math.max(chat_tat, slot) + interval_c
  redis.call('SET', k.chat_tat, ms(next_tat), 'PX', math.ceil(next_tat - now) + 1000)
  if is_group then
    redis.call('ZADD', k.group_slots, slot, ms(slot))
    redis.call('PEXPIRE', k.group_slots, math.ceil(slot - now + group_window) + 1000)
  end
  return 1, slot - now
end
