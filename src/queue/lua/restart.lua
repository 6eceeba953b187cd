-- restart: the restart broadcast. Stores Redis's current time; every worker that
-- started before it finishes its current jobs and exits.
-- KEYS[1]: key base.
-- ARGV[1]: key base.
-- Returns: the broadcast time (ms).
local now = now_ms()
redis.call('SET', K.restart, now)
return now
