-- Expire the access requests nobody decided in time (services/notifier/access_expiry.py).
-- KEYS[1]: bot:access:open (rid -> request ms); KEYS[2]: bot:access:queue
-- KEYS[3]: bot:access:outcomes; KEYS[4]: bot:audit
-- ARGV[1]: the key prefix, bot:access: (req:{rid}, user:{telegram id})
-- ARGV[2]: ACCESS_REQUEST_TTL_S in ms; ARGV[3]: the audit stream's MAXLEN (~)
-- ARGV[4]: how many requests to look at, at most
-- Each request made before now - TTL and still `pending` becomes `expired`: its stranger's
-- open-request key goes (if it still names this request), it leaves `open` and the queue,
-- and an AccessOutcome (decision expired) and an audit entry are appended, all at once.
-- One already decided (or gone) just leaves `open`; one being approved (`approving`) is
-- left to its admin's press. Returns {expired count, ms until the next one is due, or -1}.
local prefix = ARGV[1]
local ttl = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expired = 0
local function digits(value)
  if value and string.match(value, '^%-?%d+$') then return value end
  return '0'
end
for _, rid in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - ttl, 'LIMIT', 0, tonumber(ARGV[4]))) do
  local request = prefix .. 'req:' .. rid
  local status = redis.call('HGET', request, 'status')
  if status == 'pending' then
    local fields = redis.call('HMGET', request, 'telegram_id', 'chat_id')
    local telegram_id, chat_id = digits(fields[1]), digits(fields[2])
    redis.call('HSET', request, 'status', 'expired', 'decided_by', '0', 'decided_by_name', '',
      'decided_ms', tostring(now))
    local mine = prefix .. 'user:' .. telegram_id
    if redis.call('GET', mine) == rid then redis.call('DEL', mine) end
    redis.call('ZREM', KEYS[1], rid)
    redis.call('ZREM', KEYS[2], rid)
    -- Built by hand: cjson would write a large id as 1.2e+10.
    local outcome = '{"rid":' .. cjson.encode(rid) .. ',"decision":"expired","telegram_id":'
      .. telegram_id .. ',"chat_id":' .. chat_id .. ',"decided_by":0,"decided_by_name":""'
      .. ',"decided_ms":' .. now .. ',"keyboard":""}'
    redis.call('XADD', KEYS[3], '*', 'data', outcome)
    -- An AuditEntry (shared/access/records.py), by hand for the same reason.
    local audit = '{"event":"access_expired","at_ms":' .. now .. ',"rid":' .. cjson.encode(rid)
      .. ',"telegram_id":' .. telegram_id .. '}'
    redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[3], '*', 'data', audit)
    expired = expired + 1
  elseif status ~= 'approving' then
    redis.call('ZREM', KEYS[1], rid)
  end
end
local next_due = -1
local first = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. (now - ttl), '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
if first[2] then next_due = math.max(0, tonumber(first[2]) + ttl - now) end
return {expired, next_due}
