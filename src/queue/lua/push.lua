-- push: adds jobs, idempotent by id (an id that already exists is left untouched).
-- Each new job costs one existence check and one write; the ready lists, ring, wake-up
-- tokens, queue set and counter are updated once per queue and fairness key, or once
-- per call.
-- KEYS[1]: key base.
-- ARGV[1]: key base, [2] delay ms (for every job of the call); then 11 per job: id,
--   queue, spec (JSON), max_attempts, unique_key ('' = none), overlap_key ('' = none),
--   overlap_wait_ms, attempts already made, the highest fencing token an earlier
--   record of the job held (0 = none), fairness key ('' = the default key), the most
--   attempts of that key that may run at once (0 = no limit).
-- A job pushed again after Redis lost its record counts its attempts on, and the token
-- sequence is raised to its last token, so that the next reservation's token is above
-- the one a stalled attempt from before the loss may still hold.
-- Returns: one integer per job: 1 added, 0 the id already existed.
local now = now_ms()
local created = int_str(now)
local delay = tonumber(ARGV[2])
local state = delay > 0 and 'delayed' or 'ready'
local due = int_str(now + delay)
local out = {}
local queues = {}   -- queue names in the order first seen
local seen = {}     -- queue -> true once in `queues`
local groups = {}   -- queue .. ':' .. fairness key, in the order first seen
local ready = {}    -- that group -> { queue, key, ids ready now in push order }
local delayed = {}  -- flat due time, id list
local added = 0
local function put(fields, name, value)
  fields[#fields + 1] = name
  fields[#fields + 1] = value
end
local token_floor = 0
for i = 3, #ARGV, 11 do
  local id, queue = ARGV[i], ARGV[i + 1]
  local jkey = job_key(id)
  if redis.call('EXISTS', jkey) == 1 then
    out[#out + 1] = 0
  else
    -- A small hash is a list searched from the front: the fields every transition
    -- reads come first. The counters (attempts, recoveries, handbacks) start absent,
    -- which every reader takes as 0, and so do the lock fields of a job without locks,
    -- which most jobs are.
    local unique, overlap = ARGV[i + 4], ARGV[i + 5]
    local fkey, flimit = ARGV[i + 9], ARGV[i + 10]
    local fields = { 'state', state }
    if unique ~= '' or overlap ~= '' then
      fields = { 'state', state, 'ukey', unique, 'okey', overlap, 'owait', ARGV[i + 6] }
    end
    put(fields, 'spec', ARGV[i + 2])
    put(fields, 'queue', queue)
    put(fields, 'max', ARGV[i + 3])
    put(fields, 'created', created)
    if fkey ~= '' then put(fields, 'fair', fkey) end
    if flimit ~= '0' then put(fields, 'flimit', flimit) end
    if ARGV[i + 7] ~= '0' then
      put(fields, 'attempts', ARGV[i + 7])
    end
    redis.call('HSET', jkey, unpack(fields))
    token_floor = math.max(token_floor, tonumber(ARGV[i + 8]))
    if not seen[queue] then
      seen[queue] = true
      queues[#queues + 1] = queue
    end
    if delay > 0 then
      delayed[#delayed + 1], delayed[#delayed + 2] = due, id
    else
      local group = queue .. ':' .. fkey
      if not ready[group] then
        ready[group] = { queue, fkey, {} }
        groups[#groups + 1] = group
      end
      table.insert(ready[group][3], id)
    end
    added = added + 1
    out[#out + 1] = 1
  end
end
if token_floor > (tonumber(redis.call('GET', K.seq)) or 0) then
  redis.call('SET', K.seq, int_str(token_floor))
end
in_chunks('ZADD', K.delayed, delayed)
for _, queue in ipairs(queues) do
  redis.call('SADD', K.queues, queue)
end
for _, group in ipairs(groups) do
  local g = ready[group]
  add_ready(g[1], g[2], g[3], false)
end
if added > 0 then count('pushed', added) end
return out
