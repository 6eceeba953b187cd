-- defer: the attempt ends without consuming an attempt. Two uses:
--   'defer'    the handler asked to run later;
--   'handback' a stopping worker gives the job back; counted in `handbacks`, and a job
--              handed back more than the limit goes to the dead set, so that it cannot
--              loop forever through restarts.
-- KEYS[1]: key base.
-- ARGV[1]: key base, [2] job id, [3] token, [4] delay ms, [5] 'defer' | 'handback',
--   [6] hand-back limit.
-- Returns: 1 deferred, 2 sent to the dead set, 0 refused (the token no longer holds it).
local id, token, delay, mode = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local jkey = held_job(id, token)
if not jkey then return 0 end
local now = now_ms()
end_attempt(id, jkey, token)
redis.call('HINCRBY', jkey, 'attempts', -1)
if mode == 'handback' then
  local handbacks = redis.call('HINCRBY', jkey, 'handbacks', 1)
  count('handed_back')
  if handbacks > tonumber(ARGV[6]) then
    bury(id, jkey, 'handed_back', 'handed back by stopping workers ' .. handbacks .. ' times', now)
    return 2
  end
else
  count('deferred')
end
if delay > 0 then
  redis.call('HSET', jkey, 'state', 'delayed')
  redis.call('ZADD', K.delayed, now + delay, id)
else
  make_ready(id, jkey, true)
end
return 1
