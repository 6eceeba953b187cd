-- loads: what each queue holds ready and which fairness keys it is for, and the
-- running attempts per key. The work is bounded by the number of queues, `top` and the
-- attempts running, never by the keys waiting.
-- KEYS[1]: key base.
-- ARGV[1]: key base, [2] top: how many of the keys with the most ready jobs to list.
-- Returns: { queues, running, totals } where queues holds per queue { name, ready,
--   keys waiting, { key, ready, key, ready, ... } (the top keys, most ready first),
--   paused (1 or 0) } for every queue ever pushed to or paused,
--   running is a flat list of key, running attempts (keys other than ''), and totals
--   is { delayed, reserved, parked, dead } over all queues.
local top = tonumber(ARGV[2])
local names = redis.call('SUNION', K.queues, K.paused)
table.sort(names)
local queues = {}
for _, queue in ipairs(names) do
  local backlog = backlog_key(queue)
  queues[#queues + 1] = {
    queue,
    tonumber(redis.call('HGET', K.readyn, queue)) or 0,
    redis.call('ZCARD', backlog),
    top > 0 and redis.call('ZREVRANGE', backlog, 0, top - 1, 'WITHSCORES') or {},
    redis.call('SISMEMBER', K.paused, queue),
  }
end
local running = new_tally()
for _, id in ipairs(redis.call('ZRANGE', K.reserved, 0, -1)) do
  local fkey = redis.call('HGET', job_key(id), 'fair')
  if fkey then running.add(fkey) end
end
local flat = {}
for _, fkey in ipairs(running.order) do
  flat[#flat + 1] = fkey
  flat[#flat + 1] = running.count[fkey]
end
local totals = { redis.call('ZCARD', K.delayed), redis.call('ZCARD', K.reserved),
  redis.call('ZCARD', K.parked), redis.call('ZCARD', K.dead) }
return { queues, flat, totals }
