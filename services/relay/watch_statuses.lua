-- The watched workers' statuses and Redis' clock, in one call (startwatch.py).
-- KEYS     worker:status:{id} of each watched worker
-- ARGV     none
-- Returns {now_ms, status of KEYS[1], status of KEYS[2], ...} ('' for none).
-- include: now_ms.lua
-- include: read_status.lua
local out = {string.format('%d', now_ms())}
for _, key in ipairs(KEYS) do out[#out + 1] = read_status(key) end
return out
