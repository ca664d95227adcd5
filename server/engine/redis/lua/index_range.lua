-- The lowest-scored members of a global index up to a score.
-- KEYS[1] the index's sorted set. ARGV: [1] max score, [2] limit.
-- Returns {member, score, ...}, lowest score first.
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[2])
