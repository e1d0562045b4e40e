-- ARGV[3] JSON [{id, agent, input, reference, deps, children}], ARGV[4] answer_from ('' = none),
-- ARGV[5] the plan JSON a planner made ('' = the job's own), ARGV[6] the planner's name.
-- Writes the steps of a pending job, marks it running, queues the roots; or, for a job that
-- asks for its plan to be approved, records the plan and waits ({'awaiting_approval'}).
local status = redis.call('HGET', job, 'status')
redis.call('ZREM', watch, 'plan ' .. job_id)
if status ~= 'pending' then return {status or 'missing'} end
if ARGV[5] ~= '' then
  redis.call('HSET', job, 'plan', ARGV[5], 'planner', ARGV[6])
  emit('job_planned', nil, cjson.encode({planner = ARGV[6], steps = #cjson.decode(ARGV[3])}))
end
if redis.call('HGET', job, 'approval') == 'plan' then return await_approval('plan', '') end
return run_job(cjson.decode(ARGV[3]), ARGV[4])
