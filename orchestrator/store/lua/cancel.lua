-- ARGV[3] result TTL seconds. Cancels a job that has not ended: steps not yet
-- running are cancelled at once; running ones finish, but nothing more is dispatched.
local status = redis.call('HGET', job, 'status')
if not status then return 'missing' end
if status ~= 'running' and status ~= 'pending' and status ~= 'awaiting_approval' then
  return status
end
redis.call('ZREM', watch, 'finalize ' .. job_id, 'plan ' .. job_id, 'approval ' .. job_id)
for _, id in ipairs(step_ids()) do
  local sk = step_key(id)
  local st = redis.call('HGET', sk, 'status')
  if st == 'waiting' or st == 'queued' or st == 'awaiting_approval' then
    redis.call('HSET', sk, 'status', 'cancelled', 'finished_at', TS)
    emit('step_cancelled', id, '{}')
  end
end
redis.call('HSET', job, 'status', 'cancelled', 'finished_at', TS, 'error', 'cancelled')
emit('job_finished', nil, cjson.encode({status = 'cancelled', error = 'cancelled'}))
end_job('cancelled', tonumber(ARGV[3]))
return 'cancelled'
