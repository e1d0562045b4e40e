-- ARGV[3] JSON [{id, agent, input, reference, deps, children}] of new steps (deps: new steps only),
-- ARGV[4] answer_from, ARGV[5] the whole plan JSON, ARGV[6] replans JSON,
-- ARGV[7] how many replans the caller saw (another finalizer may have replanned since).
-- ARGV[8] the proposal JSON a person approves ({new: plan of the new steps}), for a job that
-- asks for its plan to be approved: it then waits ({'awaiting_approval'}) and approve.lua adds
-- the steps.
-- Adds steps to a running job whose steps have all ended, and queues those that can run.
local status = redis.call('HGET', job, 'status')
if status ~= 'running' then return {status or 'missing'} end
if #cjson.decode(redis.call('HGET', job, 'replans') or '[]') ~= tonumber(ARGV[7]) then
  return {'stale'}
end
if tonumber(redis.call('HGET', job, 'remaining')) > 0 then return {'busy'} end
redis.call('ZREM', watch, 'finalize ' .. job_id)
if redis.call('HGET', job, 'approval') == 'plan' then return await_approval('replan', ARGV[8]) end
local steps = cjson.decode(ARGV[3])
local ids = write_steps(steps, step_ids())
redis.call('HSET', job, 'remaining', #steps, 'steps', cjson.encode(ids), 'answer_from', ARGV[4],
  'plan', ARGV[5], 'replans', ARGV[6])
emit('job_replanned', nil, cjson.encode({steps = #steps}))
return queue_roots(steps)
