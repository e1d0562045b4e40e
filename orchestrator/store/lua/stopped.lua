-- ARGV[3] step, ARGV[4] dispatch. A running step of a cancelled job stopped early (its agent
-- saw the cancel): it ends cancelled. The job has ended already; nothing is due.
local step, dispatch = ARGV[3], tonumber(ARGV[4])
local sk = step_key(step)
local st, d = unpack(redis.call('HMGET', sk, 'status', 'dispatch'))
if st ~= 'running' or tonumber(d) ~= dispatch then return 0 end
redis.call('ZREM', leases, lease_member(step))
redis.call('HSET', sk, 'status', 'cancelled', 'finished_at', TS, 'lease_until', '',
  'error', 'stopped: the job was cancelled')
emit('step_cancelled', step, '{}')
return 1
