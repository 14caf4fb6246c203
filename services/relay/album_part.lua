-- A later part of an album reaching the head of its partition (albums.py), fenced by the lease:
-- skipped when the album it belongs to was forwarded already, with it included.
-- KEYS[1]  bot:lease:{p}
-- KEYS[2]  bot:fwd:{p} (the last entry of bot:incoming:{p} forwarded)
-- KEYS[3]  bot:albums:{user} (album -> 'first last': the entry ids of its first and last part
--          forwarded together; written by forward.lua / forward_request.lua)
-- KEYS[4]  bot:incoming:{p}
-- ARGV[1]  this relay's identity
-- ARGV[2]  the entry id of the part
-- ARGV[3]  its album (media_group_id)
-- Returns 'lost' (not this relay's lease: nothing written); 'skipped' (taken by the album's
-- message, bot:fwd:{p} moved to it); 'stale' (taken, and bot:fwd:{p} already at or past it);
-- or 'new' (not taken: the part starts a message of its own).
-- include: id_after.lua
local me, entry_id = ARGV[1], ARGV[2]
if redis.call('GET', KEYS[1]) ~= me then return 'lost' end
local taken = redis.call('HGET', KEYS[3], ARGV[3])
if not taken then return 'new' end
local first, last = string.match(taken, '^(%S+) (%S+)$')
if not first or not id_after(entry_id, first) or id_after(entry_id, last) then return 'new' end
local position = redis.call('GET', KEYS[2])
if position and not id_after(entry_id, position) then return 'stale' end
redis.call('SET', KEYS[2], entry_id)
redis.call('XTRIM', KEYS[4], 'MINID', '~', entry_id)
return 'skipped'
