-- counts: one consistent snapshot of where the jobs are.
-- KEYS[1]: key base.
-- ARGV[1]: key base.
-- Returns: { ready, delayed, reserved, parked, dead, stats } where stats is the flat
--   HGETALL of the counters hash (done, pushed, reserved, parked, woken, ...).
local ready = 0
for _, queue in ipairs(redis.call('SMEMBERS', K.queues)) do
  ready = ready + (tonumber(redis.call('HGET', K.readyn, queue)) or 0)
end
return { ready, redis.call('ZCARD', K.delayed), redis.call('ZCARD', K.reserved),
  redis.call('ZCARD', K.parked), redis.call('ZCARD', K.dead), redis.call('HGETALL', K.stats) }
