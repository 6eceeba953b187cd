-- ack: the attempts succeeded. Each job leaves the reserved set, its locks are
-- released (compare-and-delete), and it is kept as done for the retention period so a
-- second push of the same id stays a no-op.
-- KEYS[1]: key base.
-- ARGV[1]: key base, [2] done retention ms, then pairs: job id, token.
-- Returns: one integer per pair: 1 acked, 0 refused (the token no longer holds the job).
local now = now_ms()
local retention = tonumber(ARGV[2])
local out = {}
for i = 3, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local jkey = held_job(id, token)
  if jkey then
    end_attempt(id, jkey, token)
    redis.call('HSET', jkey, 'state', 'done', 'finished', now)
    redis.call('PEXPIRE', jkey, retention)
    count('done')
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
