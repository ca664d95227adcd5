-- Assigns the next offset, appends to the bounded stream and publishes, atomically.
-- KEYS[1] meta hash (t: top offset, e: epoch, rs/rt: retention), KEYS[2] stream.
-- ARGV: [1] frame head, [2] frame middle, [3] frame tail, [4] new epoch (if the channel has
-- none), [5] history size, [6] ttl ms, [7] now ms, [8] pub/sub channel, [9] PUBLISH or SPUBLISH.
-- Returns {offset, epoch}.
local epoch = epoch_of(KEYS[1], KEYS[2], ARGV[4], ARGV[6])
local size, ttl = retention_of(KEYS[1], ARGV[5], ARGV[6])
if tonumber(size) > 0 then trim(KEYS[2], tonumber(ARGV[7]), tonumber(ttl)) end
local top = append(KEYS[1], KEYS[2], epoch, ARGV[1], ARGV[2], ARGV[3], size, ttl, ARGV[7],
                   ARGV[8], ARGV[9])
redis.call('PEXPIRE', KEYS[1], ttl)
return {top, epoch}
