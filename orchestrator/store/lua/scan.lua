-- Standalone (no common prelude). KEYS[1] leases, KEYS[2] outbox, KEYS[3] watch of one
-- shard; ARGV[1] 'due' or 'waiting', ARGV[2] the most members to return of each.
-- 'due': {now, leases expired, outbox messages due, watch entries due}; 'waiting': {now,
-- outbox messages not due yet (published, not claimed)}. Time is the shard's node's.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local limit = tonumber(ARGV[2])
local function due(key)
  return redis.call('ZRANGEBYSCORE', key, '-inf', now, 'LIMIT', 0, limit)
end
local stamp = string.format('%.6f', now)
if ARGV[1] == 'waiting' then
  return {stamp, redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. stamp, '+inf')}
end
return {stamp, due(KEYS[1]), due(KEYS[2]), due(KEYS[3])}
