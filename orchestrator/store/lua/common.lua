-- Prepended to every job script. Conventions (see orchestrator/names.py):
--   KEYS[1] job key "celeriac:job:{SHARD}:ID"; KEYS[2] outbox, KEYS[3] watch, KEYS[4] leases
--   of the job's shard (same hash tag: one cluster slot)
--   ARGV[1] job id  ARGV[2] grace seconds (how long before the sweeper resends)
-- A job's other keys are KEYS[1] .. suffix. Time comes from Redis, one clock for all machines.
local job, outbox, watch, leases = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local job_id, grace = ARGV[1], tonumber(ARGV[2])
local t = redis.call('TIME')
local NOW = tonumber(t[1]) + tonumber(t[2]) / 1000000
local TS = string.format('%.6f', NOW)

local function step_key(id) return job .. ':step:' .. id end
local function lease_member(id) return job_id .. ' ' .. id end

local function emit(kind, step, data)
  redis.call('XADD', job .. ':events', 'MAXLEN', '~', '100000', '*',
    'type', kind, 'step', step or '', 'ts', TS, 'data', data or '{}')
end

-- A run_step message, spelled the same way every time so ZREM finds it.
local function message(step, dispatch, agent)
  return string.format('{"job":%s,"step":%s,"dispatch":%d,"agent":%s}',
    cjson.encode(job_id), cjson.encode(step), dispatch, cjson.encode(agent))
end

-- ``agent``: the step's, if the caller has read it already.
local function enqueue(step, dispatch, delay, agent)
  agent = agent or redis.call('HGET', step_key(step), 'agent')
  local msg = message(step, dispatch, agent)
  redis.call('ZADD', outbox, NOW + math.max(delay, 0) + (delay > 0 and 0 or grace), msg)
  return msg
end

-- Run a queued step (or one whose lease ran out) as ``attempt``, for ``worker``, leased
-- for ``lease`` seconds; ``lost``: the worker, start and lease of an attempt it takes over
-- ('' each if none). Returns the claim's {'ok', attempt, agent, input JSON, reference JSON
-- or '', the job's threshold or '', '1' if the job has a budget else '', its traceparent or
-- '', lost...}.
local function take(step, attempt, worker, lease, lost)
  local sk = step_key(step)
  local until_ = NOW + tonumber(lease)
  redis.call('HSET', sk, 'status', 'running', 'attempts', attempt, 'worker', worker,
    'started_at', TS, 'lease_until', string.format('%.6f', until_), 'progress', '', 'message', '')
  redis.call('ZADD', leases, until_, lease_member(step))
  emit('step_started', step, cjson.encode({attempt = attempt, worker = worker}))
  local agent, input, reference = unpack(redis.call('HMGET', sk, 'agent', 'input', 'reference'))
  local threshold, tokens, cost, trace = unpack(redis.call('HMGET', job, 'threshold',
    'budget_tokens', 'budget_cost', 'trace'))
  local budgeted = ((tokens or '') ~= '' or (cost or '') ~= '') and '1' or ''
  return {'ok', attempt, agent, input, reference or '', threshold or '', budgeted,
    trace or '', lost[1] or '', lost[2] or '', lost[3] or ''}
end

local function children(step)
  local raw = redis.call('HGET', job .. ':children', step)
  if not raw then return {} end
  return cjson.decode(raw)
end

-- Mark every waiting descendant of a failed step as skipped; return how many.
local function skip_from(root)
  local count, stack = 0, {root}
  while #stack > 0 do
    local s = table.remove(stack)
    for _, c in ipairs(children(s)) do
      local ck = step_key(c)
      if redis.call('HGET', ck, 'status') == 'waiting' then
        redis.call('HSET', ck, 'status', 'skipped', 'finished_at', TS,
          'error', 'not run: step ' .. root .. ' failed')
        emit('step_skipped', c, cjson.encode({because = root}))
        count = count + 1
        table.insert(stack, c)
      end
    end
  end
  return count
end

-- A step that failed for good is kept in the dead-letter stream (KEYS[5] of fail and expire).
local function dead_letter(step, error, attempts)
  redis.call('XADD', KEYS[5], 'MAXLEN', '~', '10000', '*', 'job', job_id, 'step', step,
    'agent', redis.call('HGET', step_key(step), 'agent') or '', 'error', error,
    'attempts', tostring(attempts), 'ts', TS)
end

-- Count steps that reached a terminal state; 1 when the job is ready to finalize.
local function settle(count)
  local remaining = redis.call('HINCRBY', job, 'remaining', -count)
  if remaining <= 0 and redis.call('HGET', job, 'status') == 'running' then
    redis.call('ZADD', watch, NOW + grace, 'finalize ' .. job_id)
    return 1
  end
  return 0
end

-- What a finished step owes: children still queued (to publish again) and finalize.
local function followups(step)
  local out = {0}
  for _, c in ipairs(children(step)) do
    local st, d = unpack(redis.call('HMGET', step_key(c), 'status', 'dispatch'))
    if st == 'queued' then table.insert(out, enqueue(c, tonumber(d), 0)) end
  end
  if redis.call('HGET', job, 'status') == 'running'
      and tonumber(redis.call('HGET', job, 'remaining')) <= 0 then
    out[1] = 1
  end
  return out
end

local function step_ids()
  local raw = redis.call('HGET', job, 'steps')
  if not raw then return {} end
  return cjson.decode(raw)
end

-- The job as read.lua returns it, appended to ``out``: {job fields, step id, step fields,
-- step id, step fields, ...} (fields flat, as HGETALL gives them) for the steps the job has
-- written; ``out`` as it was if there is no such job.
local function job_state(out)
  local fields = redis.call('HGETALL', job)
  if #fields == 0 then return out end
  table.insert(out, fields)
  for _, id in ipairs(step_ids()) do
    table.insert(out, id)
    table.insert(out, redis.call('HGETALL', step_key(id)))
  end
  return out
end

-- A job has ended: wake its waiters, and keep its keys for the result TTL only.
local function end_job(status, ttl)
  redis.call('XADD', job .. ':end', '*', 'status', status)
  for _, suffix in ipairs({'', ':children', ':waiting', ':events', ':end'}) do
    redis.call('EXPIRE', job .. suffix, ttl)
  end
  for _, id in ipairs(step_ids()) do redis.call('EXPIRE', step_key(id), ttl) end
end

-- Write a layout's steps as waiting ({id, agent, input, reference, deps, children}, deps
-- being the steps of the layout each waits for); append their ids to ``ids``.
local function write_steps(steps, ids)
  for _, s in ipairs(steps) do
    table.insert(ids, s.id)
    redis.call('HSET', step_key(s.id), 'agent', s.agent, 'input', s.input,
      'reference', s.reference, 'status', 'waiting', 'attempts', 0, 'dispatch', 0)
    redis.call('HSET', job .. ':waiting', s.id, #s.deps)
    redis.call('HSET', job .. ':children', s.id, cjson.encode(s.children))
  end
  return ids
end

-- Queue the layout's steps that wait for nothing; {'ok', their messages...}.
local function queue_roots(steps)
  local out = {'ok'}
  for _, s in ipairs(steps) do
    if #s.deps == 0 then
      redis.call('HSET', step_key(s.id), 'status', 'queued', 'dispatch', 1)
      emit('step_queued', s.id, '{}')
      table.insert(out, enqueue(s.id, 1, 0))
    end
  end
  return out
end

-- Run a pending job: write its layout's steps, mark it running, queue the roots.
local function run_job(steps, answer_from)
  local ids = write_steps(steps, {})
  redis.call('HSET', job, 'status', 'running', 'started_at', TS, 'remaining', #steps,
    'steps', cjson.encode(ids), 'answer_from', answer_from)
  emit('job_started', nil, '{}')
  return queue_roots(steps)
end

-- A job that asks a person first waits, holding no worker, until approve.lua or reject.lua
-- decides, or the sweeper expires it at its deadline (the watch entry 'approval JOB').
-- ``proposal`` is what a replanning would add (JSON), '' for the plan itself.
local function await_approval(what, proposal)
  local until_ = NOW + tonumber(redis.call('HGET', job, 'approval_timeout'))
  redis.call('HSET', job, 'status', 'awaiting_approval', 'awaiting', what,
    'proposal', proposal, 'approval_until', string.format('%.6f', until_))
  redis.call('ZADD', watch, until_, 'approval ' .. job_id)
  emit('job_awaiting_approval', nil, cjson.encode({what = what, ['until'] = until_}))
  return {'awaiting_approval'}
end
