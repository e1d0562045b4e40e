-- ARGV[3] plan JSON ('' = a goal to plan), ARGV[4] goal JSON ('' = none),
-- ARGV[5] budget tokens, ARGV[6] budget cost, ARGV[7] score threshold ('' = none).
-- ARGV[8] the plan's layout JSON, as start.lua takes it, and ARGV[9] its answer_from: the
-- job starts at once; '' = it waits for the plan task (a goal to plan).
-- ARGV[10] what the job asks a person to approve ('none' or 'plan'), ARGV[11] how long it
-- waits for that (seconds), ARGV[12] the W3C traceparent of its trace ('' = none).
-- Creates a pending job (returns 1), or a running one (returns start.lua's reply), or one
-- whose plan awaits approval ({'awaiting_approval'}).
if redis.call('EXISTS', job) == 1 then return 0 end
redis.call('HSET', job, 'status', 'pending', 'created_at', TS, 'plan', ARGV[3], 'goal', ARGV[4],
  'budget_tokens', ARGV[5], 'budget_cost', ARGV[6], 'threshold', ARGV[7] or '',
  'approval', ARGV[10], 'approval_timeout', ARGV[11], 'trace', ARGV[12] or '')
redis.call('ZADD', KEYS[5], NOW, job_id)
emit('job_submitted', nil, '{}')
if ARGV[8] ~= '' then
  if ARGV[10] == 'plan' then return await_approval('plan', '') end
  return run_job(cjson.decode(ARGV[8]), ARGV[9])
end
redis.call('ZADD', watch, NOW + grace, 'plan ' .. job_id)
return 1
