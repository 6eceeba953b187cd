-- reserve: the only way a job is taken. In one atomic step it
--   1. promotes due delayed jobs to ready;
--   2. recovers lapsed leases: the lost attempt's locks are released and its token
--      fenced out; the job goes back to ready as the next attempt, or to the dead set
--      when it was on its last attempt or has been recovered more than max_recoveries;
--   3. re-checks parked jobs whose re-check time came: past their lock wait they die
--      with 'overlap_timeout'; if their lock is free (its holder died and the TTL ran
--      out, so nobody released it) they go back to ready;
--   4. prunes dead jobs older than the dead retention;
--   5. takes up to max jobs from the queues that are not paused, in priority order,
--      each with a fresh
--      fencing token and a lease deadline from Redis TIME. Within a queue the fairness
--      keys with ready jobs take turns, one job each (FIFO within a key); a key alone
--      in the ring gives as many as are asked for. A key at its running limit leaves
--      the ring until one of its attempts ends (see release_slots).
-- KEYS[1]: key base.
-- ARGV[1]: key base, [2] lease ms, [3] max jobs, [4] max recoveries,
--   [5] park re-check ms, [6] sweep limit (per step), [7] dead retention ms,
--   [8..] queue names, highest priority first.
-- Returns: { now, wait, restart, taken, buried }
--   now: Redis time (ms); wait: ms until the earliest delayed job, lease deadline or
--   park re-check (-1: none, or jobs were taken and the caller asks again at once);
--   restart: the restart broadcast time (-1: none);
--   taken: 6 strings per job: id, token, attempt, recoveries, handbacks, spec;
--   buried: 2 strings per job this call sent to the dead set: id, reason.
local now = now_ms()
local lease, max = tonumber(ARGV[2]), tonumber(ARGV[3])
local max_recoveries, recheck = tonumber(ARGV[4]), tonumber(ARGV[5])
local limit, retention = tonumber(ARGV[6]), tonumber(ARGV[7])
local buried = {}
local function bury_noted(id, jkey, cause, reason)
  bury(id, jkey, cause, reason, now)
  buried[#buried + 1] = id
  buried[#buried + 1] = reason
end

-- 1. due delayed jobs
for _, id in ipairs(redis.call('ZRANGEBYSCORE', K.delayed, '-inf', now, 'LIMIT', 0, limit)) do
  redis.call('ZREM', K.delayed, id)
  make_ready(id, job_key(id), false)
end

-- 2. lapsed leases
for _, id in ipairs(redis.call('ZRANGEBYSCORE', K.reserved, '-inf', '(' .. now, 'LIMIT', 0, limit)) do
  local jkey = job_key(id)
  redis.call('ZREM', K.reserved, id)
  local f = redis.call('HMGET', jkey, 'token', 'attempts', 'max', 'flimit', 'fair')
  -- f[1] is false only for a record deleted behind the queue's back: nothing to recover.
  if f[1] then
    release_locks(jkey, f[1])
    if f[4] then release_slots(f[5], 1) end
    redis.call('HSET', jkey, 'token', '')
    local recoveries = redis.call('HINCRBY', jkey, 'recoveries', 1)
    count('recovered')
    local attempts, max_attempts = tonumber(f[2]) or 0, tonumber(f[3]) or 1
    if recoveries > max_recoveries then
      bury_noted(id, jkey, 'worker_lost', 'its worker was lost ' .. recoveries .. ' times')
    elseif attempts >= max_attempts then
      bury_noted(id, jkey, 'worker_lost', 'its worker was lost during the last allowed attempt ('
        .. attempts .. ' of ' .. max_attempts .. ')')
    else
      make_ready(id, jkey, true)
    end
  end
end

-- 3. parked jobs due for a re-check
for _, id in ipairs(redis.call('ZRANGEBYSCORE', K.parked, '-inf', now, 'LIMIT', 0, limit)) do
  local jkey = job_key(id)
  local f = redis.call('HMGET', jkey, 'waiting', 'since', 'owait')
  local kind = f[1]
  local field = LOCK_FIELD[kind]
  local name = field and redis.call('HGET', jkey, field)
  local deadline = (tonumber(f[2]) or now) + (tonumber(f[3]) or 0)
  if not name then
    -- Not a consistent parked record (deleted or edited by hand): stop tracking it.
    redis.call('ZREM', K.parked, id)
    make_ready(id, jkey, true)
  elseif now >= deadline then
    redis.call('ZREM', K.parked, id)
    redis.call('ZREM', waiters_key(kind, name), id)
    bury_noted(id, jkey, 'overlap_timeout', 'overlap_timeout')
  elseif redis.call('EXISTS', lock_key(kind, name)) == 0 then
    redis.call('ZREM', K.parked, id)
    redis.call('ZREM', waiters_key(kind, name), id)
    make_ready(id, jkey, true)
    count('woken')
  else
    redis.call('ZADD', K.parked, math.min(deadline, now + recheck), id)
  end
end

-- 4. dead retention
for _, id in ipairs(redis.call('ZRANGEBYSCORE', K.dead, '-inf', now - retention, 'LIMIT', 0, limit)) do
  redis.call('ZREM', K.dead, id)
  redis.call('DEL', job_key(id))
end

-- 5. take: each job costs one read and one write (a job with a limit one more, for its
-- key's running count); fencing tokens come from one INCRBY per call, and the reserved
-- set gets one ZADD.
local taken = {}
local leases = {}
local n = 0
local deadline = int_str(now + lease)
-- At most this many turns per queue and call end without a job (a key found at its
-- limit, or a stale ring entry), so a call's work stays bounded however many keys wait.
local IDLE_TURNS = 64
-- Tokens are drawn once, for every job the call may still take; unused ones are skipped,
-- which keeps tokens unique and increasing.
local next_token, last_token = 0, -1
local function token_for()
  if next_token > last_token then
    last_token = redis.call('INCRBY', K.seq, max - n)
    next_token = last_token - (max - n) + 1
  end
  next_token = next_token + 1
  return int_str(next_token - 1)
end

-- Takes `ids` (popped from the front of key `fkey`'s list in `queue`) until one is
-- found with its key at its running limit; it and those after it go back to the front
-- of the list. Returns how many ids left the list and whether the key is at its limit.
local function take(queue, fkey, ids)
  for i, id in ipairs(ids) do
    local jkey = job_key(id)
    local f = redis.call('HMGET', jkey, 'spec', 'attempts', 'recoveries', 'handbacks', 'flimit')
    if not f[1] then
      redis.call('HSET', jkey, 'queue', queue, 'spec', '')
      bury_noted(id, jkey, 'missing', 'no job record exists for this id')
    else
      if f[5] and redis.call('HINCRBY', K.running, fkey, 1) > tonumber(f[5]) then
        redis.call('HINCRBY', K.running, fkey, -1)
        for back = #ids, i, -1 do redis.call('LPUSH', list_key(queue, fkey), ids[back]) end
        return i - 1, true
      end
      local token = token_for()
      local attempt = int_str((tonumber(f[2]) or 0) + 1)
      redis.call('HSET', jkey, 'state', 'reserved', 'token', token, 'attempts', attempt)
      leases[#leases + 1] = deadline
      leases[#leases + 1] = id
      taken[#taken + 1] = id
      taken[#taken + 1] = token
      taken[#taken + 1] = attempt
      taken[#taken + 1] = f[3] or '0'
      taken[#taken + 1] = f[4] or '0'
      taken[#taken + 1] = f[1]
      n = n + 1
    end
  end
  return #ids, false
end

-- One read tells which of the queues asked for are paused.
local paused = #ARGV >= 8 and redis.call('SMISMEMBER', K.paused, unpack(ARGV, 8)) or {}
for i = 8, #ARGV do
  local queue = ARGV[i]
  if paused[i - 7] == 1 then
    -- Its wake-up tokens would only cause empty reserves until it is resumed.
    redis.call('DEL', wake_key(queue))
  else
    local ring = ring_key(queue)
    local backlog = backlog_key(queue)
    local ring_len = n < max and redis.call('LLEN', ring) or 0
    -- Ready ids pushed by a quire from before fair reservation have no ring entry.
    if ring_len == 0 and n < max then
      local legacy = redis.call('LLEN', ready_key(queue))
      if legacy > 0 then
        redis.call('RPUSH', ring, '')
        redis.call('ZADD', backlog, legacy, '')
        redis.call('HINCRBY', K.readyn, queue, legacy)
        ring_len = 1
      end
    end
    local idle, popped = 0, 0
    -- One turn of key `fkey`, which had `count` ready ids by the backlog: pops up to
    -- `want` of them and takes them. Returns how many ready ids it has left (0: its list
    -- is empty, checked before the key leaves the ring for good) and whether it is at its
    -- limit.
    local function turn(fkey, want, count)
      local list = list_key(queue, fkey)
      local ids = redis.call('LPOP', list, want)
      local took, at_limit = 0, false
      if ids then took, at_limit = take(queue, fkey, ids) end
      popped = popped + took
      if took == 0 then idle = idle + 1 end
      if at_limit then redis.call('SADD', blocked_key(fkey), queue) end
      local left = count - took
      -- A short pop emptied the list whatever the backlog says: count it then.
      if left <= 0 or not ids or #ids < want then left = redis.call('LLEN', list) end
      return left, at_limit
    end
    -- The keys' new backlog counts, written in one call each for those left and gone.
    local function write_backlog(keys, lefts)
      local scores, gone = {}, {}
      for i, fkey in ipairs(keys) do
        if lefts[i] > 0 then
          scores[#scores + 1] = lefts[i]
          scores[#scores + 1] = fkey
        else
          gone[#gone + 1] = fkey
        end
      end
      in_chunks('ZADD', backlog, scores)
      in_chunks('ZREM', backlog, gone)
    end
    while n < max and ring_len > 0 and idle < IDLE_TURNS do
      -- The next keys of the ring take one turn each (alone in the ring, a key gives as
      -- many as are asked for) and, if they stay, move to its back in the same order: the
      -- ring and the backlog are read once and written twice per round.
      local keys = redis.call('LRANGE', ring, 0, math.min(ring_len, max - n) - 1)
      local counts = redis.call('ZMSCORE', backlog, unpack(keys))
      redis.call('LTRIM', ring, #keys, -1)
      local want = ring_len == 1 and (max - n) or 1
      local stay, lefts = {}, {}
      for i, fkey in ipairs(keys) do
        local left, at_limit = turn(fkey, want, tonumber(counts[i]) or 0)
        lefts[i] = left
        if left > 0 and not at_limit then stay[#stay + 1] = fkey end
      end
      write_backlog(keys, lefts)
      in_chunks('RPUSH', ring, stay)
      ring_len = ring_len - #keys + #stay
    end
    if popped > 0 then redis.call('HINCRBY', K.readyn, queue, -popped) end
    -- Wake-up tokens of a queue with no key left to take from would only cause empty
    -- reserves.
    if ring_len == 0 then
      redis.call('DEL', wake_key(queue))
    end
  end
end
if n > 0 then
  in_chunks('ZADD', K.reserved, leases)
  count('reserved', n)
end

local wait = -1
if n == 0 then
  for _, zset in ipairs({ K.delayed, K.reserved, K.parked }) do
    local first = redis.call('ZRANGE', zset, 0, 0, 'WITHSCORES')
    if #first > 0 then
      local ms = math.max(0, tonumber(first[2]) - now)
      if wait < 0 or ms < wait then wait = ms end
    end
  end
end
local restart = tonumber(redis.call('GET', K.restart) or -1)
return { now, wait, restart, taken, buried }
