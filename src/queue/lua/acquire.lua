-- acquire: takes one lock (unique or overlap) for the current attempt, or parks the job.
-- The lock's value is the attempt's fencing token and its TTL the lease; the heartbeat
-- renews it with the lease. If another attempt holds it, the job is parked atomically
-- (no lost wake-up between the failed try and the park): the attempt is given back
-- unconsumed, any other lock it held is released, and the job waits on the lock's
-- waiter set ordered by when it started waiting. A release wakes the first waiter; the
-- reserve script's re-check frees waiters whose lock expired with its dead holder.
-- KEYS[1]: key base.
-- ARGV[1]: key base, [2] job id, [3] token, [4] 'unique' | 'overlap', [5] lease ms,
--   [6] park re-check ms.
-- Returns: 1 acquired, 2 parked, 3 dead with 'overlap_timeout', 0 refused (the token
--   no longer holds the job).
local id, token, kind = ARGV[2], ARGV[3], ARGV[4]
local lease, recheck = tonumber(ARGV[5]), tonumber(ARGV[6])
local jkey = held_job(id, token)
if not jkey then return 0 end
local f = redis.call('HMGET', jkey, LOCK_FIELD[kind], 'owait', 'since')
local name = f[1]
local lkey = lock_key(kind, name)
local owner = redis.call('GET', lkey)
if not owner then
  redis.call('SET', lkey, token, 'PX', lease)
  redis.call('HSET', jkey, 'held:' .. kind, '1')
  redis.call('HDEL', jkey, 'since', 'waiting')
  count('locks_acquired')
  return 1
end
local now = now_ms()
local since = tonumber(f[3]) or now
local deadline = since + (tonumber(f[2]) or 0)
end_attempt(id, jkey, token)
redis.call('HINCRBY', jkey, 'attempts', -1)
if now >= deadline then
  bury(id, jkey, 'overlap_timeout', 'overlap_timeout', now)
  return 3
end
redis.call('HSET', jkey, 'state', 'parked', 'since', since, 'waiting', kind)
redis.call('ZADD', K.parked, math.min(deadline, now + recheck), id)
redis.call('ZADD', waiters_key(kind, name), since, id)
count('parked')
return 2
