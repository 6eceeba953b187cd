-- loads: what each queue holds ready and which fairness keys it is for, and the
-- running attempts per queue and per key. The work is bounded by the number of queues,
-- `top` and the attempts running, never by the keys waiting. Delayed, parked and dead
-- jobs are one set each across queues: counting them per queue would read every job in
-- them, so they are totals.
-- KEYS[1]: key base.
-- ARGV[1]: key base, [2] top: how many of the keys with the most ready jobs to list.
-- Returns: { queues, running, totals } where queues holds per queue { name, ready,
--   keys waiting, { key, ready, key, ready, ... } (the top keys, most ready first),
--   paused (1 or 0), running attempts } for every queue ever pushed to or paused,
--   running is a flat list of key, running attempts (keys other than ''), and totals
--   is { delayed, reserved, parked, dead } over all queues.
local top = tonumber(ARGV[2])
local running = new_tally()
local running_in = new_tally()
for _, id in ipairs(redis.call('ZRANGE', K.reserved, 0, -1)) do
  local f = redis.call('HMGET', job_key(id), 'fair', 'queue')
  if f[1] then running.add(f[1]) end
  if f[2] then running_in.add(f[2]) end
end
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
    running_in.count[queue] or 0,
  }
end
local flat = {}
for _, fkey in ipairs(running.order) do
  flat[#flat + 1] = fkey
  flat[#flat + 1] = running.count[fkey]
end
local totals = { redis.call('ZCARD', K.delayed), redis.call('ZCARD', K.reserved),
  redis.call('ZCARD', K.parked), redis.call('ZCARD', K.dead) }
return { queues, flat, totals }
