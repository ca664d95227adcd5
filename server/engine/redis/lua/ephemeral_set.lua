-- Sets (or, with an empty value, removes) one short-lived entry, and publishes its event.
-- KEYS[1] entries hash (key -> value), KEYS[2] deadlines sorted set.
-- ARGV: [1] key, [2] value, [3] deadline ms, [4] how long the keys outlive it (ms),
-- [5] pub/sub channel, [6] event frame, [7] PUBLISH or SPUBLISH.
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
redis.call(ARGV[7], ARGV[5], 'e:' .. ARGV[6])
return 1
