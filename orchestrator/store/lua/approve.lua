-- ARGV[3] step ('' = what the job awaits: its plan or a replanning), ARGV[4] what the
-- approver saw awaited ('plan' or 'replan'; '' for a step), ARGV[5] the layout JSON of the
-- steps to write (as start.lua takes it), ARGV[6] answer_from, ARGV[7] the whole plan JSON
-- ('' = the job's own), ARGV[8] the replans JSON (a replanning), ARGV[9] '1' if edited.
-- One approval counts, however many people approve at once: returns {'ok', messages...},
-- else {why}: the status of the job or step that is not awaiting approval, 'no-step', or
-- 'changed' (the job awaits something else than the approver saw).
local step = ARGV[3]
local status = redis.call('HGET', job, 'status')
if not status then return {'missing'} end
if step ~= '' then
  local sk = step_key(step)
  local st, d = unpack(redis.call('HMGET', sk, 'status', 'dispatch'))
  if not st then return {'no-step'} end
  if st ~= 'awaiting_approval' then return {st} end
  redis.call('ZREM', watch, 'approval ' .. job_id .. ' ' .. step)
  local dispatch = tonumber(d) + 1
  redis.call('HSET', sk, 'status', 'queued', 'dispatch', dispatch, 'approved', '1')
  emit('step_approved', step, '{}')
  emit('step_queued', step, '{}')
  return {'ok', enqueue(step, dispatch, 0)}
end
if status ~= 'awaiting_approval' then return {status} end
if redis.call('HGET', job, 'awaiting') ~= ARGV[4] then return {'changed'} end
redis.call('ZREM', watch, 'approval ' .. job_id)
redis.call('HSET', job, 'awaiting', '', 'proposal', '', 'approval_until', '')
if ARGV[7] ~= '' then redis.call('HSET', job, 'plan', ARGV[7]) end
emit('job_approved', nil, cjson.encode({what = ARGV[4], edited = ARGV[9] == '1'}))
local steps = cjson.decode(ARGV[5])
if ARGV[4] == 'plan' then return run_job(steps, ARGV[6]) end
local ids = write_steps(steps, step_ids())
redis.call('HSET', job, 'status', 'running', 'remaining', #steps, 'steps', cjson.encode(ids),
  'answer_from', ARGV[6], 'replans', ARGV[8])
emit('job_replanned', nil, cjson.encode({steps = #steps}))
return queue_roots(steps)
