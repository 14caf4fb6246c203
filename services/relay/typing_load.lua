-- A partition's users waiting for a reply (typing_indicator.py); records past their cap
-- are deleted on the way.
-- KEYS[1]  bot:typing:{p} (hash: user id -> chat_id:until_ms)
-- ARGV     none
-- Returns {now_ms, user, record, user, record, ...}.
-- include: now_ms.lua
local now = now_ms()
local out = {string.format('%d', now)}
local records = redis.call('HGETALL', KEYS[1])
for i = 1, #records, 2 do
  local until_ms = tonumber(string.match(records[i + 1], ':(%d+)$'))
  if until_ms and until_ms > now then
    out[#out + 1] = records[i]
    out[#out + 1] = records[i + 1]
  else
    redis.call('HDEL', KEYS[1], records[i])
  end
end
return out
