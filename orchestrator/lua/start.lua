-- ARGV[3] JSON [{id, agent, input, reference, deps, children}], ARGV[4] answer_from ('' = none),
-- ARGV[5] the plan JSON a planner made ('' = the job's own), ARGV[6] the planner's name.
-- Writes the steps of a pending job, marks it running, queues the roots.
local status = redis.call('HGET', job, 'status')
redis.call('ZREM', watch, 'plan ' .. job_id)
if status ~= 'pending' then return {status or 'missing'} end
if ARGV[5] ~= '' then
  redis.call('HSET', job, 'plan', ARGV[5], 'planner', ARGV[6])
  emit('job_planned', nil, cjson.encode({planner = ARGV[6], steps = #cjson.decode(ARGV[3])}))
end
local steps = cjson.decode(ARGV[3])
local ids = {}
for _, s in ipairs(steps) do
  table.insert(ids, s.id)
  redis.call('HSET', step_key(s.id), 'agent', s.agent, 'input', s.input,
    'reference', s.reference, 'status', 'waiting', 'attempts', 0, 'dispatch', 0)
  redis.call('HSET', job .. ':waiting', s.id, #s.deps)
  redis.call('HSET', job .. ':children', s.id, cjson.encode(s.children))
end
redis.call('HSET', job, 'status', 'running', 'started_at', TS, 'remaining', #steps,
  'steps', cjson.encode(ids), 'answer_from', ARGV[4])
emit('job_started', nil, '{}')
local out = {'ok'}
for _, s in ipairs(steps) do
  if #s.deps == 0 then
    redis.call('HSET', step_key(s.id), 'status', 'queued', 'dispatch', 1)
    emit('step_queued', s.id, '{}')
    table.insert(out, enqueue(s.id, 1, 0))
  end
end
return out
