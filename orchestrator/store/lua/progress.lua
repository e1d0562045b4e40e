-- ARGV[3] step, ARGV[4] dispatch, ARGV[5] fraction ('' = unknown), ARGV[6] message.
local sk = step_key(ARGV[3])
local st, d = unpack(redis.call('HMGET', sk, 'status', 'dispatch'))
if st ~= 'running' or tonumber(d) ~= tonumber(ARGV[4]) then return 0 end
redis.call('HSET', sk, 'progress', ARGV[5], 'message', ARGV[6])
emit('step_progress', ARGV[3], cjson.encode({fraction = tonumber(ARGV[5]), message = ARGV[6]}))
return 1
