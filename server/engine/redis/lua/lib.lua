-- Helpers shared by publish.lua, commit.lua and history.lua (prepended to each).

-- Removes history entries past their TTL, oldest first (bounded work per call).
local function trim(stream, now, ttl)
  local min_ts = now - ttl
  for i = 1, 100 do
    local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)
    if #first == 0 then return end
    if tonumber(first[1][2][2]) > min_ts then return end
    redis.call('XDEL', stream, first[1][1])
  end
end

-- The channel's epoch; a channel seen for the first time (or whose keys expired) starts a new
-- stream under `fresh`, so old offsets can never be mistaken for new ones.
local function epoch_of(meta, stream, fresh, ttl)
  local epoch = redis.call('HGET', meta, 'e')
  if not epoch then
    epoch = fresh
    redis.call('HSET', meta, 'e', epoch)
    redis.call('PEXPIRE', meta, ttl)
    redis.call('DEL', stream)
  end
  return epoch
end

-- The channel's history bounds: its own retention when a commit set one (a crisis timeline),
-- else the configured size and ttl ms.
local function retention_of(meta, size, ttl)
  local r = redis.call('HMGET', meta, 'rs', 'rt')
  if r[1] and r[2] then return r[1], r[2] end
  return size, ttl
end

-- Appends one event frame (cut around offset and epoch) at the next offset, keeps it in the
-- bounded stream and publishes "<offset>:<epoch>:<frame>". Returns the offset.
local function append(meta, stream, epoch, head, middle, tail, size, ttl, now, chan, pub)
  local top = redis.call('HINCRBY', meta, 't', 1)
  local frame = head .. top .. middle .. epoch .. tail
  if tonumber(size) > 0 then
    redis.call('XADD', stream, 'MAXLEN', size, top .. '-1', 't', now, 'f', frame)
    redis.call('PEXPIRE', stream, ttl)
  end
  redis.call(pub, chan, top .. ':' .. epoch .. ':' .. frame)
  return top
end
