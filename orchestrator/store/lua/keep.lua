-- ARGV[3] step, ARGV[4] attempt, ARGV[5] output JSON, ARGV[6] scores JSON.
-- Keeps an attempt that scored under the job's threshold: its output and scores stand
-- until a later attempt's replace them, and its scores join the step's history.
local sk = step_key(ARGV[3])
local history = cjson.decode(redis.call('HGET', sk, 'history') or '[]')
table.insert(history, {attempt = tonumber(ARGV[4]), scores = cjson.decode(ARGV[6])})
redis.call('HSET', sk, 'output', ARGV[5], 'scores', ARGV[6], 'history', cjson.encode(history))
return 1
