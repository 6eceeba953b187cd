-- renew: extends the leases of the jobs a worker runs and the locks their attempts
-- hold, in one batch. Strict: a lease that already lapsed is not renewed (the worker
-- has cancelled that attempt by then), nor one whose lock is no longer its own.
-- KEYS[1]: key base.
-- ARGV[1]: key base, [2] lease ms, then pairs: job id, token.
-- Returns: one integer per pair: 1 renewed, 0 lost.
local now = now_ms()
local lease = ARGV[2]
local deadline = int_str(now + tonumber(lease))
local out = {}
for i = 3, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local jkey = held_job(id, token)
  local ok = jkey ~= nil and tonumber(redis.call('ZSCORE', K.reserved, id) or 0) >= now
  if ok then
    for _, lock in ipairs(LOCKS) do
      local kind, field = lock[1], lock[2]
      if ok and redis.call('HEXISTS', jkey, 'held:' .. kind) == 1 then
        local lkey = lock_key(kind, redis.call('HGET', jkey, field))
        ok = redis.call('GET', lkey) == token
        if ok then redis.call('PEXPIRE', lkey, lease) end
      end
    end
  end
  if ok then
    redis.call('ZADD', K.reserved, 'XX', deadline, id)
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
