-- ARGV[3] step, ARGV[4] dispatch, ARGV[5] error, ARGV[6] retry delay (-1: no retry),
-- ARGV[7] max attempts. Only the current attempt's failure counts.
-- Returns {finalize (0/1)}, or {-1} when ignored.
local step, dispatch, delay = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[6])
local sk = step_key(step)
local st, d, attempts = unpack(redis.call('HMGET', sk, 'status', 'dispatch', 'attempts'))
if st ~= 'running' or tonumber(d) ~= dispatch then return {-1} end
redis.call('ZREM', leases, lease_member(step))
if delay >= 0 and tonumber(attempts) < tonumber(ARGV[7])
    and redis.call('HGET', job, 'status') == 'running' then
  redis.call('HSET', sk, 'status', 'queued', 'dispatch', dispatch + 1, 'error', ARGV[5],
    'lease_until', '')
  emit('step_retrying', step, cjson.encode({attempt = tonumber(attempts), error = ARGV[5],
    delay = delay}))
  enqueue(step, dispatch + 1, delay)
  return {0}
end
redis.call('HSET', sk, 'status', 'failed', 'error', ARGV[5], 'finished_at', TS,
  'lease_until', '')
emit('step_failed', step, cjson.encode({error = ARGV[5]}))
dead_letter(step, ARGV[5], attempts)
return {settle(1 + skip_from(step))}
