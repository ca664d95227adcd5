-- A compare-and-set of documents plus events, atomically: every write's expected version must
-- hold, then all writes apply and all events are appended and published as by publish.lua.
-- KEYS[1] meta hash, KEYS[2] stream, KEYS[3] documents hash, KEYS[4] versions hash.
-- ARGV: [1] number of writes, [2] number of events, [3] new epoch, [4] history size, [5] ttl ms,
-- [6] now ms, [7] pub/sub channel, [8] PUBLISH or SPUBLISH, [9] retention size and [10] ttl ms
-- ('': none), [11] frame middle; then per write: key, expected version ('any': whatever it is),
-- value ('': delete); then per event: frame head, frame tail.
-- Returns {0, value, version, ...} (each written key's current state) when an expectation
-- failed, else {1, epoch, #writes, new version..., offset...}.
local nw, ne = tonumber(ARGV[1]), tonumber(ARGV[2])
local w0, e0 = 12, 12 + 3 * nw
-- Versions compared as strings: exact whatever their size.
local ok = true
for i = 0, nw - 1 do
  local expect = ARGV[w0 + 3 * i + 1]
  if expect ~= 'any' and (redis.call('HGET', KEYS[4], ARGV[w0 + 3 * i]) or '0') ~= expect then
    ok = false
  end
end
if not ok then
  local out = {0}
  for i = 0, nw - 1 do
    local k = ARGV[w0 + 3 * i]
    out[#out + 1] = redis.call('HGET', KEYS[3], k) or ''
    out[#out + 1] = tonumber(redis.call('HGET', KEYS[4], k) or '0')
  end
  return out
end
local epoch = epoch_of(KEYS[1], KEYS[2], ARGV[3], ARGV[5])
if ARGV[9] ~= '' then redis.call('HSET', KEYS[1], 'rs', ARGV[9], 'rt', ARGV[10]) end
local size, ttl = retention_of(KEYS[1], ARGV[4], ARGV[5])
local out = {1, epoch, nw}
for i = 0, nw - 1 do
  local k, v = ARGV[w0 + 3 * i], ARGV[w0 + 3 * i + 2]
  if v == '' then
    out[#out + 1] = tonumber(redis.call('HGET', KEYS[4], k) or '0') + 1
    redis.call('HDEL', KEYS[3], k)
    redis.call('HDEL', KEYS[4], k)
  else
    redis.call('HSET', KEYS[3], k, v)
    out[#out + 1] = redis.call('HINCRBY', KEYS[4], k, 1)
  end
end
if ne > 0 and tonumber(size) > 0 then trim(KEYS[2], tonumber(ARGV[6]), tonumber(ttl)) end
for i = 0, ne - 1 do
  out[#out + 1] = append(KEYS[1], KEYS[2], epoch, ARGV[e0 + 2 * i], ARGV[11],
                         ARGV[e0 + 2 * i + 1], size, ttl, ARGV[6], ARGV[7], ARGV[8])
end
redis.call('PEXPIRE', KEYS[1], ttl)
return out
