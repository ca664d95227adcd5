-- A client joins a channel's presence, and the join is published.
-- KEYS[1] presence hash (client -> name), KEYS[2] deadlines sorted set.
-- ARGV: [1] client, [2] name, [3] deadline ms, [4] ttl ms, [5] pub/sub channel, [6] join event,
-- [7] PUBLISH or SPUBLISH.
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call(ARGV[7], ARGV[5], 'p:' .. ARGV[6])
return 1
