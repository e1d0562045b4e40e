-- ARGV[3] step, ARGV[4] output JSON, ARGV[5] scores JSON ('' = none), ARGV[6..8] the
-- prompt tokens, completion tokens and cost of the attempt's model calls not yet counted.
-- Records a step's output and queues the dependents that became ready: each exactly once,
-- however often this runs. Returns {finalize (0/1), messages...}, or {-1} when the step had
-- already ended otherwise.
local step = ARGV[3]
local sk = step_key(step)
-- What the attempt spent counts however it ends.
local prompt, completion = tonumber(ARGV[6]), tonumber(ARGV[7])
if prompt > 0 or completion > 0 or tonumber(ARGV[8]) > 0 then
  for _, key in ipairs({job, sk}) do
    redis.call('HINCRBY', key, 'prompt_tokens', prompt)
    redis.call('HINCRBY', key, 'completion_tokens', completion)
    redis.call('HINCRBYFLOAT', key, 'cost', ARGV[8])
  end
end
local st = redis.call('HGET', sk, 'status')
if st == 'succeeded' then return followups(step) end
-- A superseded attempt (its lease expired, the step was queued again) may still
-- deliver the first result: take it; the newer message then finds the step done.
if st ~= 'running' and st ~= 'queued' then return {-1} end
redis.call('HSET', sk, 'status', 'succeeded', 'output', ARGV[4], 'scores', ARGV[5],
  'finished_at', TS, 'error', '', 'lease_until', '')
redis.call('ZREM', leases, lease_member(step))
emit('step_succeeded', step, '{}')
local out = {0}
if redis.call('HGET', job, 'status') == 'running' then
  for _, c in ipairs(children(step)) do
    local left = redis.call('HINCRBY', job .. ':waiting', c, -1)
    local ck = step_key(c)
    if left == 0 and redis.call('HGET', ck, 'status') == 'waiting' then
      redis.call('HSET', ck, 'status', 'queued', 'dispatch', 1)
      emit('step_queued', c, '{}')
      table.insert(out, enqueue(c, 1, 0))
    end
  end
end
out[1] = settle(1)
return out
