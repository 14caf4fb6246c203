-- Helper (include it): a worker's status, trimmed and upper case ('' when there is none).
-- ``worker:status:{id}`` is a hash with field ``status``; an old worker-manager wrote a
-- plain string.
local function read_status(key)
  local kind = redis.call('TYPE', key)['ok']
  local value = false
  if kind == 'hash' then
    value = redis.call('HGET', key, 'status')
  elseif kind == 'string' then
    value = redis.call('GET', key)
  end
  if not value then return '' end
  return string.upper((string.gsub(value, '^%s*(.-)%s*$', '%1')))
end
