-- Sets a member's score in a global index unless it has an earlier one (absent: added).
-- KEYS[1] the index's sorted set. ARGV: [1] score, [2] member.
return redis.call('ZADD', KEYS[1], 'LT', ARGV[1], ARGV[2])
