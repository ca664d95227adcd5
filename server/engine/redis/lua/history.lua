-- The stream position and a slice of history, in one snapshot.
-- KEYS[1] meta hash, KEYS[2] stream.
-- ARGV: [1] since (-1: the latest), [2] limit, [3] now ms, [4] ttl ms, [5] new epoch.
-- Returns {top, epoch, first offset, then offset, ts, frame per entry}.
local epoch = epoch_of(KEYS[1], KEYS[2], ARGV[5], ARGV[4])
local _, ttl = retention_of(KEYS[1], 0, ARGV[4])
local top = tonumber(redis.call('HGET', KEYS[1], 't') or '0')
trim(KEYS[2], tonumber(ARGV[3]), tonumber(ttl))
local out = {top, epoch, top + 1}
local first = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
if #first > 0 then out[3] = tonumber(string.match(first[1][1], '^(%d+)')) end
local limit = tonumber(ARGV[2])
if limit > 0 then
  local entries
  if tonumber(ARGV[1]) < 0 then
    entries = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', limit)
    local n = #entries
    for i = 1, n / 2 do entries[i], entries[n - i + 1] = entries[n - i + 1], entries[i] end
  else
    entries = redis.call('XRANGE', KEYS[2], (tonumber(ARGV[1]) + 1) .. '-0', '+', 'COUNT', limit)
  end
  for i = 1, #entries do
    out[#out + 1] = tonumber(string.match(entries[i][1], '^(%d+)'))
    out[#out + 1] = entries[i][2][2]
    out[#out + 1] = entries[i][2][4]
  end
end
return out
