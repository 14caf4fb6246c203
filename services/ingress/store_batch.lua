-- Stores one batch of updates, each at most once (services/ingress/intake.py).
-- KEYS: none (the key names travel in ARGV[3], see docs/ARCHITECTURE.md).
-- ARGV[1]: the dedupe keys' TTL (s).
-- ARGV[2]: the backlog cap: entries an incoming stream may hold.
-- ARGV[3]: a JSON array, one item per update:
--          [dedupe key, stream, message data, answer data...]
--          (stream and message data "" for an update with answers only).
-- ARGV[4]: the answers' stream (bot:answers).
-- ARGV[5]: "1": refresh the dedupe key of an update stored before (EXPIRE), so
--          this call writes, and a WAIT after it on the same connection also
--          covers that earlier store (REDIS_MIN_REPLICAS_ACK); "0": no write.
-- Returns {per update: the message's new entry id, 1 for an update with
-- answers only, or 0 for an update stored before; the answers' new entry
-- ids, in order, for the updates stored now; the streams a new message
-- would take past the cap}. When that last list is not empty, nothing was
-- stored: the streams are never trimmed here, the updates wait at Telegram.
local ttl, cap, answers, touch = ARGV[1], tonumber(ARGV[2]), ARGV[4], ARGV[5] == '1'
local items = cjson.decode(ARGV[3])

local length, full = {}, {}
for _, item in ipairs(items) do
  local stream = item[2]
  if stream ~= '' and redis.call('EXISTS', item[1]) == 0 then
    local n = (length[stream] or redis.call('XLEN', stream)) + 1
    length[stream] = n
    if n > cap and not full[stream] then
      full[stream] = true
      full[#full + 1] = stream
    end
  end
end
if #full > 0 then
  return {{}, {}, full}
end

local out, said = {}, {}
for i, item in ipairs(items) do
  local seen_key, stream, data = item[1], item[2], item[3]
  if redis.call('SET', seen_key, '1', 'NX', 'EX', ttl) then
    if stream == '' then
      out[i] = 1
    else
      out[i] = redis.call('XADD', stream, '*', 'data', data)
    end
    for j = 4, #item do
      said[#said + 1] = redis.call('XADD', answers, '*', 'data', item[j])
    end
  else
    out[i] = 0
    if touch then
      redis.call('EXPIRE', seen_key, ttl)
    end
  end
end
return {out, said, {}}
