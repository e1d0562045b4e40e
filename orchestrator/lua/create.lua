-- ARGV[3] plan JSON ('' = a goal to plan), ARGV[4] goal JSON ('' = none),
-- ARGV[5] budget tokens, ARGV[6] budget cost, ARGV[7] score threshold ('' = none).
-- Creates a pending job.
if redis.call('EXISTS', job) == 1 then return 0 end
redis.call('HSET', job, 'status', 'pending', 'created_at', TS, 'plan', ARGV[3], 'goal', ARGV[4],
  'budget_tokens', ARGV[5], 'budget_cost', ARGV[6], 'threshold', ARGV[7] or '')
redis.call('ZADD', KEYS[5], NOW, job_id)
redis.call('ZADD', watch, NOW + grace, 'plan ' .. job_id)
emit('job_submitted', nil, '{}')
return 1
