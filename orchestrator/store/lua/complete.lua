-- ARGV[3] step, ARGV[4] output JSON, ARGV[5] scores JSON ('' = none), ARGV[6..8] the
-- prompt tokens, completion tokens and cost of the attempt's model calls not yet counted,
-- ARGV[9] worker, ARGV[10] lease seconds, ARGV[11..] the agent types of which the worker
-- runs a ready dependent next itself (none: it runs none).
-- Records a step's output and queues the dependents that became ready: each exactly once,
-- however often this runs. The first of them of a type in ARGV[11..] is claimed for the
-- worker at once, instead of going to the outbox: its lease keeps it if the worker dies.
-- Returns {finalize (0/1), messages..., and {message, claim...} of the one claimed, if
-- any}, or {-1} when the step had already ended otherwise; or, when this ended the job's
-- last step, {2, the job as read.lua returns it}: what finalizing it reads, in this call.
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
local served = {}
for i = 11, #ARGV do served[ARGV[i]] = true end
local out, chained = {0}, nil
if redis.call('HGET', job, 'status') == 'running' then
  for _, c in ipairs(children(step)) do
    local left = redis.call('HINCRBY', job .. ':waiting', c, -1)
    local ck = step_key(c)
    local cst, agent = unpack(redis.call('HMGET', ck, 'status', 'agent'))
    if left == 0 and cst == 'waiting' then
      redis.call('HSET', ck, 'status', 'queued', 'dispatch', 1)
      emit('step_queued', c, '{}')
      if not chained and served[agent] then
        chained = take(c, 1, ARGV[9], ARGV[10], {'', '', ''})
        table.insert(chained, 1, message(c, 1, agent))
      else
        table.insert(out, enqueue(c, 1, 0, agent))
      end
    end
  end
end
out[1] = settle(1)
if chained then table.insert(out, chained) end
if out[1] == 1 and #out == 1 then return job_state({2}) end
return out
