-- forget: `quire failed forget`: deletes dead jobs for good. Other jobs are left alone.
-- KEYS[1]: key base.
-- ARGV[1]: key base, [2..] job ids.
-- Returns: one integer per id: 1 deleted, 0 not dead.
local out = {}
for i = 2, #ARGV do
  local id = ARGV[i]
  if redis.call('HGET', job_key(id), 'state') == 'dead' then
    redis.call('ZREM', K.dead, id)
    redis.call('DEL', job_key(id))
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
