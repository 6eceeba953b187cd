-- revive: `quire failed retry`: dead jobs go back to ready with their counters reset.
-- A job that is not dead (already revived, or unknown) is left alone, so retrying the
-- same job twice queues it once.
-- KEYS[1]: key base.
-- ARGV[1]: key base, [2..] job ids.
-- Returns: one integer per id: 1 queued again, 0 not dead.
local out = {}
for i = 2, #ARGV do
  local id = ARGV[i]
  local jkey = job_key(id)
  local f = redis.call('HMGET', jkey, 'state', 'spec')
  if f[1] == 'dead' and f[2] ~= '' then
    redis.call('ZREM', K.dead, id)
    -- Back to a pushed job's fields: counters absent (read as 0), no token.
    redis.call('HDEL', jkey, 'attempts', 'recoveries', 'handbacks', 'token', 'died', 'cause', 'since',
      'waiting')
    make_ready(id, jkey, false)
    count('revived')
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
