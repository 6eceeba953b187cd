-- ack: the attempts succeeded. Each job leaves the reserved set, its locks are
-- released (compare-and-delete), and it is kept as done for the retention period so a
-- second push of the same id stays a no-op. One fence read and two writes per job; the
-- reserved set, the counter and the running slots of each fairness key (held by jobs
-- with a limit) are updated once per call.
-- KEYS[1]: key base.
-- ARGV[1]: key base, [2] done retention ms, then pairs: job id, token.
-- Returns: one integer per pair: 1 acked, 0 refused (the token no longer holds the job).
local now = int_str(now_ms())
local retention = ARGV[2]
local out = {}
local acked = {}
local slots = new_tally()  -- fairness key -> slots to give back
for i = 3, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local jkey, unique, overlap, limit, fkey = held_job(id, token, 'ukey', 'okey', 'flimit', 'fair')
  if jkey then
    if (unique and unique ~= '') or (overlap and overlap ~= '') then
      release_locks(jkey, token)
    end
    if limit then slots.add(fkey) end
    redis.call('HSET', jkey, 'state', 'done', 'finished', now)
    redis.call('PEXPIRE', jkey, retention)
    acked[#acked + 1] = id
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
for _, fkey in ipairs(slots.order) do release_slots(fkey, slots.count[fkey]) end
if #acked > 0 then
  in_chunks('ZREM', K.reserved, acked)
  count('done', #acked)
end
return out
