-- Changes a member of a global index only while its score is still the one expected.
-- KEYS[1] the index's sorted set. ARGV: [1] member, [2] expected score, [3] new score or ''
-- (remove). Returns 1 when it changed something.
local now = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not now or tonumber(now) ~= tonumber(ARGV[2]) then return 0 end
if ARGV[3] == '' then
  redis.call('ZREM', KEYS[1], ARGV[1])
else
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
end
return 1
