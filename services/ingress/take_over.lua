-- Takes over answers whose owner is gone (services/ingress/courier.py).
-- KEYS: none (the alive keys travel in ARGV[2]).
-- ARGV[1]: the answers' stream (bot:answers).
-- ARGV[2]: a JSON array of [entry id, the owner's alive key or "" (no check),
--          the copy's data or "" (delete only)].
-- Per item, only while the owner's alive key is missing and the entry still
-- exists: the entry is deleted and its copy added. Returns per item the
-- copy's entry id, 1 when only deleted, 0 when left alone.
local stream = ARGV[1]
local out = {}
for i, item in ipairs(cjson.decode(ARGV[2])) do
  local old, alive, data = item[1], item[2], item[3]
  out[i] = 0
  if (alive == '' or redis.call('EXISTS', alive) == 0)
      and redis.call('XDEL', stream, old) == 1 then
    if data == '' then
      out[i] = 1
    else
      out[i] = redis.call('XADD', stream, '*', 'data', data)
    end
  end
end
return out
