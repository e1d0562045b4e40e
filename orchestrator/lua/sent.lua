-- ARGV[3] message, ARGV[4] seconds. A published message stays in the outbox until a
-- worker claims it; if none has by then (the broker lost it), the sweeper sends it again.
redis.call('ZADD', outbox, 'XX', NOW + tonumber(ARGV[4]), ARGV[3])
return 1
