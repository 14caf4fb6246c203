-- Helper (include it): the user's oldest pending request not cancelled, or false.
-- pending: bot:pending:{user} (sorted by when it reached the PO); cancelled: bot:cancelled:{user}.
local function current_request(pending, cancelled)
  for _, request in ipairs(redis.call('ZRANGE', pending, 0, -1)) do
    if redis.call('SISMEMBER', cancelled, request) == 0 then return request end
  end
  return false
end
