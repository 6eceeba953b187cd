-- push: adds jobs, idempotent by id (an id that already exists is left untouched).
-- KEYS[1]: key base.
-- ARGV[1]: key base; then 8 per job: id, queue, spec (JSON), max_attempts,
--   unique_key ('' = none), overlap_key ('' = none), overlap_wait_ms, delay_ms.
-- Returns: one integer per job: 1 added, 0 the id already existed.
local now = now_ms()
local out = {}
for i = 2, #ARGV, 8 do
  local id, queue = ARGV[i], ARGV[i + 1]
  local jkey = job_key(id)
  if redis.call('EXISTS', jkey) == 1 then
    out[#out + 1] = 0
  else
    redis.call('HSET', jkey, 'spec', ARGV[i + 2], 'queue', queue, 'max', ARGV[i + 3],
      'ukey', ARGV[i + 4], 'okey', ARGV[i + 5], 'owait', ARGV[i + 6],
      'attempts', 0, 'recoveries', 0, 'handbacks', 0, 'created', now)
    redis.call('SADD', K.queues, queue)
    local delay = tonumber(ARGV[i + 7])
    if delay > 0 then
      redis.call('HSET', jkey, 'state', 'delayed')
      redis.call('ZADD', K.delayed, now + delay, id)
    else
      make_ready(id, jkey, false)
    end
    count('pushed')
    out[#out + 1] = 1
  end
end
return out
