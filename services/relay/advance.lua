-- Move one of a partition's read positions forward (cursors.py), fenced by the lease,
-- with the entry's dead letter when it could not be handled.
-- KEYS[1]  bot:lease:{p}
-- KEYS[2]  the position: bot:fwd:{p} (a string) or bot:cursor:{p} (a hash)
-- KEYS[3]  the dead-letter stream (<stream>:dead), or an unused key
-- KEYS[4]  bot:typing:{p} for a reply cursor, or an unused key
-- KEYS[5]  bot:pending:{user} for a final reply, or an unused key
-- KEYS[6]  bot:cancelled:{user} for a final reply, or an unused key
-- KEYS[7]  bot:cancelling:{p} for a final reply, or an unused key
-- KEYS[8]  bot:acks:{user} for a final reply, or an unused key
-- ARGV[1]  this relay's identity
-- ARGV[2]  the hash field (a user id) for a reply cursor; '' for bot:fwd:{p}
-- ARGV[3]  the entry id to move to
-- ARGV[4]  the dead letter's data ('' when the entry was handled)
-- ARGV[5]  the dead-letter stream's MAXLEN (approximate)
-- ARGV[6]  a final reply's request: '' (none: not a final reply), '=' (the oldest
--          pending: the PO named none), or '=<request id>'
-- Returns {1, ack} moved, {2, ''} already at or past the entry, {0, ''} the lease is
-- not this relay's; ack: the chat message reacted to for the request a final reply
-- ends ('' : none).
-- include: id_after.lua
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {0, ''} end
local field, entry_id = ARGV[2], ARGV[3]
local current
if field == '' then
  current = redis.call('GET', KEYS[2])
else
  current = redis.call('HGET', KEYS[2], field)
end
if current and not id_after(entry_id, current) then return {2, ''} end
if ARGV[4] ~= '' then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*', 'data', ARGV[4])
end
if field == '' then
  redis.call('SET', KEYS[2], entry_id)
else
  redis.call('HSET', KEYS[2], field, entry_id)
  -- A reply came: a relay taking the partition over shows no "typing…" for it.
  redis.call('HDEL', KEYS[4], field)
end
if ARGV[6] ~= '' then
  -- The request is answered: no longer pending, no longer to be hidden.
  local request = string.sub(ARGV[6], 2)
  if request == '' then
    local oldest = redis.call('ZRANGE', KEYS[5], 0, 0)
    request = oldest[1] or ''
  end
  if request ~= '' then
    redis.call('ZREM', KEYS[5], request)
    if redis.call('SREM', KEYS[6], request) == 1 and redis.call('SCARD', KEYS[6]) == 0 then
      redis.call('SREM', KEYS[7], field)
    end
    local ack = redis.call('HGET', KEYS[8], request)
    if ack then
      redis.call('HDEL', KEYS[8], request)
      return {1, ack}
    end
  end
end
return {1, ''}
