-- gate(k, budget, member, is_group): may this request go now? Telegram's
-- limits counted by answer times. No KEYS or ARGV of its own.
--   k.sent         bot:flood:sent          global log: answer times, "now + in flight" for
--                                          requests in flight (sorted set)
--   k.global_pause bot:flood:pause         every chat paused until (ms)
--   k.chat_pause   bot:flood:pause:{id}    the chat paused until (ms)
--   k.flight       bot:flood:flight:{id}   the member of the chat's request in flight
--   k.answered     bot:flood:answered:{id} the chat's GCRA fed with answer times
--   k.group_sent   bot:flood:sent:{id}     a group's log, like k.sent
--   budget         the decoded budget (shared/ratelimit/budget.py, ScriptBudget)
--   member         this request's unique name
--   is_group       true for a group chat
-- Returns the status and the delay in ms (a string): 1 go now (the request is
-- entered as in flight), 0 not yet (ask again after the delay), 2 paused
-- (reserve again: the pause may be long).
-- include: clock.lua

local function gate(k, budget, member, is_group)
  local in_flight = budget.in_flight_ms
  local poll = ms(budget.poll_ms)

  -- Returns nil if one more request fits in the window, else the wait.
  local function window_wait(key, limit, window)
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
    local n = redis.call('ZCARD', key)
    if n < limit then
      return nil
    end
    local entry = redis.call('ZRANGE', key, n - limit, n - limit, 'WITHSCORES')
    local answered = tonumber(entry[2])
    if answered > now then
      return poll  -- still in flight: its answer will tell
    end
    return ms(answered + window - now)
  end
  local function log_in_flight(key, window)
    redis.call('ZADD', key, now + in_flight, member)
    redis.call('PEXPIRE', key, math.ceil(in_flight + window) + 1000)
  end

  local paused = math.max(stored(k.global_pause), stored(k.chat_pause))
  if paused > now then
    return 2, ms(paused - now)
  end
  -- One request per chat in flight, so the chat's bucket (below) knows every
  -- earlier request's answer time.
  local flying = redis.call('GET', k.flight)
  if flying and flying ~= member then
    return 0, poll
  end
  local ready = stored(k.answered) - budget.chat_tolerance_ms
  if ready > now then
    return 0, ms(ready - now)
  end
  if is_group then
    local wait = window_wait(k.group_sent, budget.group_limit, budget.group_window_ms)
    if wait then
      return 0, wait
    end
  end
  local wait = window_wait(k.sent, budget.global_limit, budget.global_window_ms)
  if wait then
    return 0, wait
  end

  -- in_flight_ms > 0 (the budget checks it), so PX is at least 1.
  redis.call('SET', k.flight, member, 'PX', math.ceil(in_flight))
  log_in_flight(k.sent, budget.global_window_ms)
  if is_group then
    log_in_flight(k.group_sent, budget.group_window_ms)
  end
  return 1, '0'
end
