-- Every document whose key starts with a prefix.
-- KEYS[1] documents hash, KEYS[2] versions hash. ARGV[1] the key prefix.
-- Returns {key, value, version, ...}, unordered.
local out = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if string.sub(all[i], 1, #ARGV[1]) == ARGV[1] then
    out[#out + 1] = all[i]
    out[#out + 1] = all[i + 1]
    out[#out + 1] = tonumber(redis.call('HGET', KEYS[2], all[i]) or '0')
  end
end
return out
