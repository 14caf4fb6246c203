-- Shared by the decision scripts (included): where a request stands.
-- h: HMGET of status, claim_until_ms, decided_by_name, decided_ms.
-- Returns nil when the request may be decided now (pending, or approving under a claim
-- that ran out: its ingress died between claim and finish), else the script's answer.
local function settled(h, now_ms)
  local status = h[1]
  if not status then return {'missing'} end
  if status == 'pending' then return nil end
  if status == 'approving' then
    if tonumber(h[2] or '0') > now_ms then return {'busy', h[3] or ''} end
    return nil
  end
  return {'decided', status, h[3] or '', h[4] or '0'}
end

local function state(key)
  return redis.call('HMGET', key, 'status', 'claim_until_ms', 'decided_by_name', 'decided_ms')
end

-- The request is over: no longer the stranger's open one, in no list, its outcome out.
local function close(req_user_key, rid, open_key, queue_key, outcomes, outcome, audit, audit_entry, maxlen)
  if redis.call('GET', req_user_key) == rid then redis.call('DEL', req_user_key) end
  redis.call('ZREM', open_key, rid)
  redis.call('ZREM', queue_key, rid)
  redis.call('XADD', outcomes, 'MAXLEN', '~', maxlen, '*', 'data', outcome)
  redis.call('XADD', audit, 'MAXLEN', '~', maxlen, '*', 'data', audit_entry)
end
