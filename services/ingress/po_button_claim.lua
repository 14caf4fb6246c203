-- Claim the press of a button a PO offered (services/ingress/po_buttons.py), atomically.
-- KEYS[1]  bot:buttons:{key} (the offer: JSON, written by the relay with its TTL)
-- KEYS[2]  bot:buttons:{key}:pressed (the update id of the press that counted)
-- ARGV[1]  the press's update id
-- ARGV[2]  the presser's user id (the API's)
-- ARGV[3]  the button's index in the offer
-- Returns {'expired'} (no offer: expired or never made; not the presser's; no such
-- button), {'taken'} (another update pressed one of these buttons first), or
-- {'ok', offer}. The same update delivered again is 'ok' again: it is still the press.
local raw = redis.call('GET', KEYS[1])
if not raw then return {'expired'} end
local offer = cjson.decode(raw)
-- Checked before the claim: a forged or stranger's press must not use up the buttons.
if offer.user_id ~= tonumber(ARGV[2]) then return {'expired'} end
if tonumber(ARGV[3]) >= #offer.buttons then return {'expired'} end
local pressed = redis.call('GET', KEYS[2])
if pressed and pressed ~= ARGV[1] then return {'taken'} end
if not pressed then
  local ttl = redis.call('PTTL', KEYS[1])
  -- The offer always has a TTL; none (-1) would be a bug: then the default week.
  if ttl == -1 then ttl = 604800000 elseif ttl < 1000 then ttl = 1000 end
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ttl)
end
return {'ok', raw}
