-- ARGV[3] status, ARGV[4] answer JSON, ARGV[5] error, ARGV[6] result TTL seconds,
-- ARGV[7] the job's score ('' = none).
-- Ends a pending or running job once; cancel.lua ends jobs the same way.
local status = redis.call('HGET', job, 'status')
redis.call('ZREM', watch, 'finalize ' .. job_id, 'plan ' .. job_id)
if status ~= 'running' and status ~= 'pending' then return status or 'missing' end
redis.call('HSET', job, 'status', ARGV[3], 'answer', ARGV[4], 'error', ARGV[5],
  'score', ARGV[7] or '', 'finished_at', TS)
emit('job_finished', nil, cjson.encode({status = ARGV[3], error = ARGV[5]}))
end_job(ARGV[3], tonumber(ARGV[6]))
return 'ok'
