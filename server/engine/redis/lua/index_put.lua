-- Sets a member's score in a global index (through EVAL so it is routed by slot and follows
-- redirects like every other command).
-- KEYS[1] the index's sorted set. ARGV: [1] score, [2] member.
return redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
