-- Assigns the next offset, appends to the bounded stream and publishes, atomically; a publish
-- retried with an idempotency key it already saw gets its first offset and appends nothing.
-- KEYS[1] meta hash (t: top offset, e: epoch, rs/rt: retention), KEYS[2] stream,
-- KEYS[3] idempotency keys hash (key -> offset), KEYS[4] their expiry sorted set.
-- ARGV: [1] frame head, [2] frame middle, [3] frame tail, [4] new epoch (if the channel has
-- none), [5] history size, [6] ttl ms, [7] now ms, [8] pub/sub channel, [9] PUBLISH or SPUBLISH,
-- [10] idempotency key ('': none), [11] when that key is forgotten (ms).
-- Returns {offset, epoch}.
local epoch = epoch_of(KEYS[1], KEYS[2], ARGV[4], ARGV[6])
if ARGV[10] ~= '' then
  -- Forget expired keys (bounded), then look this one up.
  local old = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', ARGV[7], 'LIMIT', 0, 100)
  for _, k in ipairs(old) do
    redis.call('HDEL', KEYS[3], k)
    redis.call('ZREM', KEYS[4], k)
  end
  local seen = redis.call('HGET', KEYS[3], ARGV[10])
  if seen then return {tonumber(seen), epoch} end
end
local size, ttl = retention_of(KEYS[1], ARGV[5], ARGV[6])
if tonumber(size) > 0 then trim(KEYS[2], tonumber(ARGV[7]), tonumber(ttl)) end
local top = append(KEYS[1], KEYS[2], epoch, ARGV[1], ARGV[2], ARGV[3], size, ttl, ARGV[7],
                   ARGV[8], ARGV[9])
redis.call('PEXPIRE', KEYS[1], ttl)
if ARGV[10] ~= '' then
  redis.call('HSET', KEYS[3], ARGV[10], top)
  redis.call('ZADD', KEYS[4], ARGV[11], ARGV[10])
  redis.call('PEXPIRE', KEYS[3], ttl)
  redis.call('PEXPIRE', KEYS[4], ttl)
end
return {top, epoch}
