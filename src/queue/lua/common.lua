-- common.lua: prepended to every script (see scripts.rs), never run alone.
--
-- Every script is called with KEYS[1] = ARGV[1] = the key base "{prefix}:". KEYS[1]
-- routes the call to the prefix's slot; every key a script touches is built below from
-- ARGV[1], so all of them carry the same hash tag and live in that one slot (Redis
-- Cluster safe). The Rust mirror of these names is keys.rs.
--
-- A job is a hash `job:<id>` with fields:
--   spec      the job as pushed (JSON, decoded by the worker only)
--   queue     its queue; max: max_attempts; created: push time
--   fair      its fairness key (absent: the default key ''); flimit: the most limited
--             attempts of that key that may run at once (absent: no limit). While a job
--             with a limit is reserved, its attempt holds one of the key's slots in
--             `running`; the one transition that ends the attempt gives it back.
--   ukey/okey lock names; owait: how long it may wait for a lock (ms); all three absent
--             (or '') for a job that takes no lock
--   state     ready | delayed | reserved | parked | dead | done
--   attempts  executions started; recoveries: lapsed leases; handbacks: shutdown hand-backs
--             (each absent until it first counts: absent reads as 0)
--   token     fencing token of the current reservation (its lease deadline is its score
--             in the reserved set)
--   held:unique / held:overlap   present while the current attempt holds that lock
--   since, waiting   while parked: when it started waiting, and on which lock kind
--   error     last error or the reason it is dead; died: when it went dead
-- Times are milliseconds from Redis TIME, never from a worker's clock.

local base = ARGV[1]
local K = {
  stats = base .. 'stats',       -- hash of counters
  seq = base .. 'seq',           -- fencing token sequence
  queues = base .. 'queues',     -- set of queue names ever pushed to
  delayed = base .. 'delayed',   -- zset id -> due time
  reserved = base .. 'reserved', -- zset id -> lease deadline
  parked = base .. 'parked',     -- zset id -> next time to re-check its lock
  dead = base .. 'dead',         -- zset id -> time it went dead
  restart = base .. 'restart',   -- the restart broadcast (time of the broadcast)
  readyn = base .. 'readyn',     -- hash queue -> ready jobs in it
  running = base .. 'running',   -- hash fairness key -> limited attempts running
  paused = base .. 'paused',     -- set of paused queue names: reserve skips them
}
local function job_key(id) return base .. 'job:' .. id end
local function ready_key(queue) return base .. 'ready:' .. queue end
local function wake_key(queue) return base .. 'wake:' .. queue end
-- Fair reservation: within a queue every fairness key has a FIFO list of ready ids, and
-- the ring lists the keys whose list is non-empty, in the order they take turns. The
-- default key '' uses the queue's plain ready list. A key at its running limit leaves
-- the ring for `blocked:<key>` (the queues it waits in) until one of its attempts ends.
-- Fairness keys never contain ':', so `fair:<queue>:<key>` is unambiguous.
local function list_key(queue, fkey)
  if fkey == '' then return ready_key(queue) end
  return base .. 'fair:' .. queue .. ':' .. fkey
end
local function ring_key(queue) return base .. 'ring:' .. queue end
local function backlog_key(queue) return base .. 'backlog:' .. queue end -- zset key -> ready
local function blocked_key(fkey) return base .. 'blocked:' .. fkey end
local function lock_key(kind, name) return base .. 'lock:' .. kind .. ':' .. name end
local function waiters_key(kind, name) return base .. 'waiters:' .. kind .. ':' .. name end

-- Lock kinds and the job field naming each lock; an array so iteration is ordered.
local LOCKS = { { 'unique', 'ukey' }, { 'overlap', 'okey' } }
local LOCK_FIELD = { unique = 'ukey', overlap = 'okey' }
-- Wake-up tokens beyond this many are useless: no worker pool is that idle.
local WAKE_CAP = 1000

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- An integer as Redis wants it. Lua turns a number passed to redis.call into a string
-- with a floating-point format, a visible share of Redis's time in per-job loops;
-- hot paths convert once with this instead.
local function int_str(n)
  return string.format('%d', n)
end

local function count(field, n)
  redis.call('HINCRBY', K.stats, field, n or 1)
end

-- ZADD/RPUSH-style commands over many members in a few calls, within Lua's argument
-- limits: `args` is the flat argument list after the key.
local function in_chunks(command, key, args)
  local chunk = 2000
  for first = 1, #args, chunk do
    redis.call(command, key, unpack(args, first, math.min(first + chunk - 1, #args)))
  end
end

-- A count per name that remembers the order names were first seen: `tally.order` lists
-- them, `tally.count[name]` is the count. `add` raises `name` by one.
local function new_tally()
  local tally = { order = {}, count = {} }
  function tally.add(name)
    if not tally.count[name] then
      tally.count[name] = 0
      tally.order[#tally.order + 1] = name
    end
    tally.count[name] = tally.count[name] + 1
  end
  return tally
end

-- Leaves `n` wake-up tokens for the idle workers of `queue` (at most WAKE_CAP in all).
local function wake_workers(queue, n)
  local tokens = {}
  for i = 1, math.min(n, WAKE_CAP) do tokens[i] = '1' end
  in_chunks('LPUSH', wake_key(queue), tokens)
  redis.call('LTRIM', wake_key(queue), 0, WAKE_CAP - 1)
end

-- Adds ready ids of one fairness key to a queue and wakes that many idle workers. A key
-- whose list was empty joins the ring: at the back, or at the front for `front` (ids that
-- already waited: recovered, woken, handed back), which also go first in their list;
-- `front` is only used with one id.
local function add_ready(queue, fkey, ids, front)
  local list = list_key(queue, fkey)
  in_chunks(front and 'LPUSH' or 'RPUSH', list, ids)
  if redis.call('LLEN', list) == #ids then
    redis.call(front and 'LPUSH' or 'RPUSH', ring_key(queue), fkey)
  end
  redis.call('ZINCRBY', backlog_key(queue), #ids, fkey)
  redis.call('HINCRBY', K.readyn, queue, #ids)
  wake_workers(queue, #ids)
end

-- Makes a job ready in its queue.
local function make_ready(id, jkey, front)
  local f = redis.call('HMGET', jkey, 'queue', 'fair')
  -- A record deleted behind the queue's back is dropped rather than break every reserve.
  if not f[1] then return end
  redis.call('HSET', jkey, 'state', 'ready')
  add_ready(f[1], f[2] or '', { id }, front)
end

-- Moves the longest-waiting parked job of a lock back to ready: one waiter per release,
-- so a freed lock never starts a stampede.
local function wake_one(kind, name)
  local waiters = waiters_key(kind, name)
  while true do
    local popped = redis.call('ZPOPMIN', waiters)
    if #popped == 0 then return end
    local id = popped[1]
    local jkey = job_key(id)
    if redis.call('HGET', jkey, 'state') == 'parked' then
      redis.call('ZREM', K.parked, id)
      make_ready(id, jkey, true)
      count('woken')
      return
    end
  end
end

-- Compare-and-delete of every lock the attempt `token` holds on the job; a freed lock
-- wakes one of its waiters. A lock now owned by another attempt is left alone.
local function release_locks(jkey, token)
  for _, lock in ipairs(LOCKS) do
    local kind, field = lock[1], lock[2]
    if redis.call('HDEL', jkey, 'held:' .. kind) == 1 then
      local name = redis.call('HGET', jkey, field)
      local lkey = lock_key(kind, name)
      if redis.call('GET', lkey) == token then
        redis.call('DEL', lkey)
        count('locks_released')
      end
      if redis.call('EXISTS', lkey) == 0 then
        wake_one(kind, name)
      end
    end
  end
end

-- The fence every transition passes: the job's key if attempt `token` still holds the
-- job, else nil. A lease that lapsed but was not yet recovered is still held: nobody
-- else can have the job until a reserve recovers it and so changes its state.
-- Extra field names may follow; their values come back after the key, read in the same
-- HMGET.
local function held_job(id, token, ...)
  local jkey = job_key(id)
  local current = redis.call('HMGET', jkey, 'state', 'token', ...)
  if current[1] == 'reserved' and current[2] == token then
    return jkey, unpack(current, 3, 2 + select('#', ...))
  end
  return nil
end


-- Gives back `n` running slots of fairness key `fkey` (false or nil: none were held,
-- the job having no limit). The key's queues where it waited at its limit get it back in their
-- ring, at the front: it has waited its turn.
local function release_slots(fkey, n)
  if not fkey then return end
  if redis.call('HINCRBY', K.running, fkey, -n) <= 0 then
    redis.call('HDEL', K.running, fkey)
  end
  local blocked = blocked_key(fkey)
  local queues = redis.call('SMEMBERS', blocked)
  if #queues == 0 then return end
  for _, queue in ipairs(queues) do
    if redis.call('LLEN', list_key(queue, fkey)) > 0 then
      redis.call('LPUSH', ring_key(queue), fkey)
      wake_workers(queue, 1)
    end
  end
  redis.call('DEL', blocked)
end

-- Ends the current attempt: out of the reserved set, its locks and running slot released.
local function end_attempt(id, jkey, token)
  redis.call('ZREM', K.reserved, id)
  release_locks(jkey, token)
  local f = redis.call('HMGET', jkey, 'flimit', 'fair')
  if f[1] then release_slots(f[2], 1) end
end

-- Sends a job to the dead set with its reason.
-- `cause` is one word of DeathCause (queue/job.rs); `reason` is the text shown.
local function bury(id, jkey, cause, reason, now)
  redis.call('HSET', jkey, 'state', 'dead', 'cause', cause, 'error', reason, 'died', now)
  redis.call('ZADD', K.dead, now, id)
  count('dead')
end

