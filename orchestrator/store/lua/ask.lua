-- ARGV[3] step, ARGV[4] dispatch, ARGV[5] the step's resolved input JSON, ARGV[6] how long
-- it may wait (seconds) if the job does not say.
-- A claimed step of an agent type that needs a person's yes waits for it, holding no worker:
-- approve.lua queues it again (approved), reject.lua fails it, the sweeper expires it.
-- Waiting is not an attempt. Returns 1, or 0 if this dispatch no longer holds the step.
local step, dispatch = ARGV[3], tonumber(ARGV[4])
local sk = step_key(step)
local st, d = unpack(redis.call('HMGET', sk, 'status', 'dispatch'))
if st ~= 'running' or tonumber(d) ~= dispatch then return 0 end
local timeout = redis.call('HGET', job, 'approval_timeout')
if not timeout or timeout == '' then timeout = ARGV[6] end
local until_ = NOW + tonumber(timeout)
redis.call('HINCRBY', sk, 'attempts', -1)
redis.call('HSET', sk, 'status', 'awaiting_approval', 'approval_input', ARGV[5],
  'approval_until', string.format('%.6f', until_), 'lease_until', '', 'worker', '')
redis.call('ZREM', leases, lease_member(step))
redis.call('ZADD', watch, until_, 'approval ' .. job_id .. ' ' .. step)
emit('step_awaiting_approval', step, cjson.encode({['until'] = until_}))
return 1
