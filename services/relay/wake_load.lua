-- What waking an idle user needs (wakeups.py), read in one step.
-- KEYS[1]  bot:cursor:{p}
-- KEYS[2]  the user's output stream
-- KEYS[3]  bot:active:{p}
-- KEYS[4]  session:{user}
-- KEYS[5]  bot:chat:{user} (expires with the session)
-- KEYS[6]  bot:chats:{p} (the last chat, kept)
-- ARGV[1]  the user id
-- Returns {cursor, 1 if an entry waits after it, 1 if active, 1 if a session, chat};
-- '' for a missing cursor or chat.
local user = ARGV[1]
local cursor = redis.call('HGET', KEYS[1], user)
if not cursor then return {'', 0, 0, 0, ''} end
local newer = redis.call('XREVRANGE', KEYS[2], '+', '(' .. cursor, 'COUNT', 1)
local chat = redis.call('GET', KEYS[5]) or redis.call('HGET', KEYS[6], user) or ''
return {
  cursor,
  newer[1] and 1 or 0,
  redis.call('SISMEMBER', KEYS[3], user),
  redis.call('EXISTS', KEYS[4]),
  chat,
}
