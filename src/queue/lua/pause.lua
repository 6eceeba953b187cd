-- pause: stops or resumes reservation from one queue. A paused queue still takes
-- pushes; its jobs wait without spending attempts, and attempts already running go on.
-- Resuming wakes as many idle workers as the queue has ready jobs.
-- KEYS[1]: key base.
-- ARGV[1]: key base, [2] queue name, [3] '1' to pause, '0' to resume.
-- Returns: 1 when the queue's state changed, 0 when it already was so.
local queue = ARGV[2]
if ARGV[3] == '1' then
  return redis.call('SADD', K.paused, queue)
end
local changed = redis.call('SREM', K.paused, queue)
if changed == 1 then
  local ready = tonumber(redis.call('HGET', K.readyn, queue)) or 0
  if ready > 0 then wake_workers(queue, ready) end
end
return changed
