-- How long until neither the chat nor every chat is paused.
-- KEYS[1] bot:flood:pause:{id}     the chat paused until
-- KEYS[2] bot:flood:pause          every chat paused until
-- No ARGV. Returns the ms left of the longer pause, as a string.
-- include: clock.lua

return ms(math.max(0, stored(KEYS[1]) - now, stored(KEYS[2]) - now))
