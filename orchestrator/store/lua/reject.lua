-- ARGV[3] step ('' = what the job awaits), ARGV[4] the reason, ARGV[5] 'rejected' (a person
-- said no) or 'expired' (the sweeper, once the wait's deadline passed), ARGV[6] result TTL.
-- A rejected or expired job ends so; a step fails with the reason, and the job's usual
-- failure handling follows. Returns {'ok', finalize (0/1)}, else {why}: the status of the job
-- or step that is not awaiting approval, 'no-step', or 'not-due' (an expiry too early).
local step, reason, outcome = ARGV[3], ARGV[4], ARGV[5]
local member = 'approval ' .. job_id .. (step ~= '' and (' ' .. step) or '')
local status = redis.call('HGET', job, 'status')
if not status then
  redis.call('ZREM', watch, member)
  return {'missing'}
end
local key = step ~= '' and step_key(step) or job
local st, until_ = unpack(redis.call('HMGET', key, 'status', 'approval_until'))
if not st then return {'no-step'} end
if st ~= 'awaiting_approval' then
  redis.call('ZREM', watch, member)
  return {st}
end
if outcome == 'expired' and tonumber(until_) > NOW then return {'not-due'} end
redis.call('ZREM', watch, member)
if step ~= '' then
  redis.call('HSET', key, 'status', 'failed', 'error', reason, 'finished_at', TS)
  emit('step_failed', step, cjson.encode({error = reason, outcome = outcome}))
  return {'ok', settle(1 + skip_from(step))}
end
redis.call('HSET', job, 'status', outcome, 'error', reason, 'finished_at', TS, 'awaiting', '')
emit('job_finished', nil, cjson.encode({status = outcome, error = reason}))
end_job(outcome, tonumber(ARGV[6]))
return {'ok', 0}
