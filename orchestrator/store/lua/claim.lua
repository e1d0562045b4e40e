-- ARGV[3] step, ARGV[4] dispatch, ARGV[5] worker, ARGV[6] lease seconds, ARGV[7] agent,
-- ARGV[8] max attempts.
-- Returns {'ok', attempt, agent, input JSON, reference JSON or '', the job's threshold or '',
-- '1' if the job has a budget else '', the job's traceparent or '', and of an attempt whose
-- lease ran out and that this one takes over: its worker, start and lease (else '' each)}, or {reason, ...} when this message must not run the step.
local step, dispatch = ARGV[3], tonumber(ARGV[4])
-- This message has arrived: the outbox need not send it again.
redis.call('ZREM', outbox, message(step, dispatch, ARGV[7]))
local jstatus = redis.call('HGET', job, 'status')
if jstatus ~= 'running' then return {'job-' .. (jstatus or 'missing')} end
local sk = step_key(step)
local st, d, lease, attempts = unpack(redis.call('HMGET', sk, 'status', 'dispatch',
  'lease_until', 'attempts'))
if not st then return {'missing'} end
if st == 'succeeded' then
  local out = followups(step)
  table.insert(out, 1, 'succeeded')
  return out
end
if tonumber(d) ~= dispatch then return {'stale'} end
if st == 'queued' or (st == 'running' and tonumber(lease) <= NOW) then
  local attempt = tonumber(attempts) + 1
  -- The message came back after its worker died (the broker redelivered it) and its lease
  -- ran out: taking over is one more attempt, and the last one was the last allowed. The
  -- sweeper fails the step (expire.lua), as it would have without this message.
  if st == 'running' and attempt > tonumber(ARGV[8]) then return {'exhausted'} end
  local lost = {'', '', ''}
  if st == 'running' then
    lost = redis.call('HMGET', sk, 'worker', 'started_at', 'lease_until')
  end
  local until_ = NOW + tonumber(ARGV[6])
  redis.call('HSET', sk, 'status', 'running', 'attempts', attempt, 'worker', ARGV[5],
    'started_at', TS, 'lease_until', string.format('%.6f', until_), 'progress', '', 'message', '')
  redis.call('ZADD', leases, until_, lease_member(step))
  emit('step_started', step, cjson.encode({attempt = attempt, worker = ARGV[5]}))
  local agent, input, reference = unpack(redis.call('HMGET', sk, 'agent', 'input', 'reference'))
  local threshold, tokens, cost, trace = unpack(redis.call('HMGET', job, 'threshold',
    'budget_tokens', 'budget_cost', 'trace'))
  local budgeted = ((tokens or '') ~= '' or (cost or '') ~= '') and '1' or ''
  return {'ok', attempt, agent, input, reference or '', threshold or '', budgeted,
    trace or '', lost[1] or '', lost[2] or '', lost[3] or ''}
end
return {st}
