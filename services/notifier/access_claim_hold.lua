-- Keep (or shorten) this notifier's claim on a request's cards (services/notifier/access_cards.py).
-- KEYS[1]: bot:access:cards-claim:{rid}
-- ARGV[1]: this notifier's claim token; ARGV[2]: how long it holds from now, ms
-- Returns 1 if the claim is still ours (its time is set to ARGV[2]), else 0 (it expired and
-- another notifier may hold it: keyed sends keep every card single).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
