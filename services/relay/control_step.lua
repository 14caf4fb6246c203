-- Helper (include it): the fenced start and end of a control entry's script (control.py).
-- ``control_begin`` answers {'lost'} or {'duplicate'} when the entry must not be acted on.
local function control_begin(lease, forwarded, me, entry_id)
  if redis.call('GET', lease) ~= me then return {'lost'} end
  local last = redis.call('GET', forwarded)
  if last and not id_after(entry_id, last) then return {'duplicate'} end
  return nil
end

-- Consumed: the partition's next owner starts after it, and it is trimmed like a message.
local function control_end(forwarded, incoming, entry_id)
  redis.call('SET', forwarded, entry_id)
  redis.call('XTRIM', incoming, 'MINID', '~', entry_id)
end
