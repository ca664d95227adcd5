-- Removes a member from a global index.
-- KEYS[1] the index's sorted set. ARGV[1] member.
return redis.call('ZREM', KEYS[1], ARGV[1])
