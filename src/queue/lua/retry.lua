-- retry: the attempt failed with a transient error and the job has attempts left. It
-- leaves the reserved set, its locks are released, and it waits `delay` before it is
-- ready again (the attempt stays counted).
-- KEYS[1]: key base.
-- ARGV[1]: key base, [2] job id, [3] token, [4] delay ms, [5] the error.
-- Returns: 1 scheduled, 0 refused (the token no longer holds the job).
local id, token, delay = ARGV[2], ARGV[3], tonumber(ARGV[4])
local jkey = held_job(id, token)
if not jkey then return 0 end
local now = now_ms()
end_attempt(id, jkey, token)
redis.call('HSET', jkey, 'error', ARGV[5])
if delay > 0 then
  redis.call('HSET', jkey, 'state', 'delayed')
  redis.call('ZADD', K.delayed, now + delay, id)
else
  make_ready(id, jkey, false)
end
count('retried')
return 1
