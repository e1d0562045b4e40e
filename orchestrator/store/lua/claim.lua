-- ARGV[3] step, ARGV[4] dispatch, ARGV[5] worker, ARGV[6] lease seconds, ARGV[7] agent,
-- ARGV[8] max attempts.
-- Returns the claim (``take``, in common.lua); for a step that already succeeded
-- {'succeeded', finalize, messages...}; else {why} when this message must not run the step.
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
  return take(step, attempt, ARGV[5], ARGV[6], lost)
end
return {st}
