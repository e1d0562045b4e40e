-- Standalone (no common prelude). KEYS[1] job key "celeriac:job:{SHARD}:ID".
-- Returns {job fields, step id, step fields, step id, step fields, ...} (fields flat, as
-- HGETALL gives them) for the steps the job has written, or {} if there is no such job.
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then return {} end
local out = {fields}
local raw = redis.call('HGET', KEYS[1], 'steps')
if raw and raw ~= '' then
  for _, id in ipairs(cjson.decode(raw)) do
    table.insert(out, id)
    table.insert(out, redis.call('HGETALL', KEYS[1] .. ':step:' .. id))
  end
end
return out
