-- Who is in a channel: entries whose deadline passed (their node stopped refreshing them) are
-- dropped first.
-- KEYS[1] presence hash, KEYS[2] deadlines sorted set. ARGV[1] now ms.
-- Returns {client, name, ...}.
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
for _, c in ipairs(expired) do
  redis.call('HDEL', KEYS[1], c)
  redis.call('ZREM', KEYS[2], c)
end
return redis.call('HGETALL', KEYS[1])
