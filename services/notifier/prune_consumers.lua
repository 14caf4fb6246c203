-- KEYS[1]: the stream.
-- ARGV[1]: the group; ARGV[2]: the consumer to keep (the caller); ARGV[3]: the idle time, ms.
-- Removes the group's consumers gone for good: idle longer than ARGV[3] and holding
-- no pending entry, never ARGV[2]. Returns the names removed. Checked and removed in
-- one step, so a consumer that reads meanwhile loses nothing.
local removed = {}
local min_idle = tonumber(ARGV[3])
for _, consumer in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local fields = {}
  for i = 1, #consumer, 2 do
    fields[consumer[i]] = consumer[i + 1]
  end
  if fields.name ~= ARGV[2] and fields.pending == 0 and fields.idle > min_idle then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], fields.name)
    removed[#removed + 1] = fields.name
  end
end
return removed
