-- ARGV[3] lease seconds, ARGV[4..] step, dispatch pairs this worker runs.
-- Extends each lease still held; returns {job status, lost steps...}.
local until_ = NOW + tonumber(ARGV[3])
local out = {redis.call('HGET', job, 'status') or 'missing'}
for i = 4, #ARGV, 2 do
  local step, dispatch = ARGV[i], tonumber(ARGV[i + 1])
  local sk = step_key(step)
  local st, d = unpack(redis.call('HMGET', sk, 'status', 'dispatch'))
  if st == 'running' and tonumber(d) == dispatch then
    redis.call('HSET', sk, 'lease_until', string.format('%.6f', until_))
    redis.call('ZADD', leases, until_, lease_member(step))
  else
    table.insert(out, step)
  end
end
return out
