-- Note one admin's card (its message id) in the request's hash, merged into `cards`.
-- KEYS[1]: bot:access:req:{rid}
-- ARGV[1]: the admin's Telegram id; ARGV[2]: the card's message id
-- Returns {status, decided_by, decided_by_name, decided_ms} as the hash has them after the
-- write (the caller edits the card at once if the request was decided meanwhile), or {}
-- when the hash is gone (nothing is written).
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
local raw = redis.call('HGET', KEYS[1], 'cards')
local cards = {}
if raw and raw ~= '' then
  local ok, decoded = pcall(cjson.decode, raw)
  if ok and type(decoded) == 'table' then cards = decoded end
end
cards[ARGV[1]] = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'cards', cjson.encode(cards))
return redis.call('HMGET', KEYS[1], 'status', 'decided_by', 'decided_by_name', 'decided_ms')
