-- Give a partition up, if this relay still holds it (compare-and-delete).
-- KEYS[1]  bot:lease:{p}
-- ARGV[1]  this relay's identity
-- Returns 1 if released, 0 if the lease was not this relay's.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
