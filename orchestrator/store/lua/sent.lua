-- Standalone (no common prelude). KEYS[1] outbox; ARGV[1] seconds; ARGV[2..] messages.
-- Published messages stay in the outbox until a worker claims them; any still there
-- after ARGV[1] seconds (the broker lost them) the sweeper sends again.
local t = redis.call('TIME')
local at = tonumber(t[1]) + tonumber(t[2]) / 1000000 + tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', at, ARGV[i]) end
return #ARGV - 1
