-- The live short-lived entries whose key starts with a prefix; expired ones are dropped first.
-- KEYS[1] entries hash, KEYS[2] deadlines sorted set. ARGV[1] now ms, ARGV[2] the key prefix.
-- Returns {key, value, ...}, unordered.
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
for _, k in ipairs(expired) do
  redis.call('HDEL', KEYS[1], k)
  redis.call('ZREM', KEYS[2], k)
end
local out = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if string.sub(all[i], 1, #ARGV[2]) == ARGV[2] then
    out[#out + 1] = all[i]
    out[#out + 1] = all[i + 1]
  end
end
return out
