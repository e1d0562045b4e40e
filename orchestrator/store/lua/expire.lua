-- ARGV[3] step, ARGV[4] max attempts. A running step whose lease ran out lost its
-- worker: queue it again (new dispatch number, so the old message is void) or fail it.
-- Returns {finalize (0/1), messages...}, or {-1} when the lease is still held.
local step = ARGV[3]
local sk = step_key(step)
local st, lease, attempts, d = unpack(redis.call('HMGET', sk, 'status', 'lease_until',
  'attempts', 'dispatch'))
if st == 'running' and tonumber(lease) > NOW then return {-1} end
redis.call('ZREM', leases, lease_member(step))
if st ~= 'running' then return {-1} end
if redis.call('HGET', job, 'status') ~= 'running' then
  redis.call('HSET', sk, 'status', 'cancelled', 'finished_at', TS, 'lease_until', '')
  return {-1}
end
local reason = 'worker lost (lease expired) during attempt ' .. attempts
if tonumber(attempts) >= tonumber(ARGV[4]) then
  reason = reason .. ' of ' .. ARGV[4] .. ': its worker died every time; the step may be '
    .. 'crashing it (see `celeriac dead-letters`)'
  redis.call('HSET', sk, 'status', 'failed', 'error', reason, 'finished_at', TS,
    'lease_until', '')
  emit('step_failed', step, cjson.encode({error = reason}))
  dead_letter(step, reason, attempts)
  return {settle(1 + skip_from(step))}
end
local dispatch = tonumber(d) + 1
redis.call('HSET', sk, 'status', 'queued', 'dispatch', dispatch, 'error', reason,
  'lease_until', '')
emit('step_retrying', step, cjson.encode({attempt = tonumber(attempts), error = reason,
  delay = 0}))
return {0, enqueue(step, dispatch, 0)}
