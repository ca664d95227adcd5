-- A client leaves a channel's presence; the leave is published if it was there.
-- KEYS[1] presence hash, KEYS[2] deadlines sorted set.
-- ARGV: [1] client, [2] pub/sub channel, [3] leave event, [4] PUBLISH or SPUBLISH.
if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call(ARGV[4], ARGV[2], 'p:' .. ARGV[3])
end
return 1
