-- revive: dead jobs (and, when asked, done ones) go back to ready with their counters
-- reset. A retried report whose old job was done (its attempt ended the run, then a
-- retry reopened the run) must run again, however its last attempt ended. A job in any
-- other state (ready, delayed, parked, reserved, or unknown) is left alone, so retrying
-- the same job twice queues it once.
-- KEYS[1]: key base.
-- ARGV[1]: key base, [2] '1' to revive done jobs too, '0' for dead ones only,
--   [3..] job ids.
-- Returns: one integer per id: 1 queued again, 0 left alone.
local also_done = ARGV[2] == '1'
local out = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local jkey = job_key(id)
  local f = redis.call('HMGET', jkey, 'state', 'spec')
  if (f[1] == 'dead' or (also_done and f[1] == 'done')) and f[2] ~= '' then
    redis.call('ZREM', K.dead, id)
    -- A done record expires after its retention; a revived one lives until it ends.
    redis.call('PERSIST', jkey)
    -- Back to a pushed job's fields: counters absent (read as 0), no token.
    redis.call('HDEL', jkey, 'attempts', 'recoveries', 'handbacks', 'token', 'died', 'cause', 'since',
      'waiting', 'finished')
    make_ready(id, jkey, false)
    count('revived')
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
