-- Documents by key, in one snapshot.
-- KEYS[1] documents hash, KEYS[2] versions hash. ARGV: the document keys.
-- Returns {value, version, ...} ('' and 0 for an absent document).
local out = {}
for i = 1, #ARGV do
  out[#out + 1] = redis.call('HGET', KEYS[1], ARGV[i]) or ''
  out[#out + 1] = tonumber(redis.call('HGET', KEYS[2], ARGV[i]) or '0')
end
return out
