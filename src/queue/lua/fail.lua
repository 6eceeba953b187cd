-- fail: the job is dead (permanent error, last attempt failed, undecodable spec,
-- unknown kind). It leaves the reserved set, its locks are released, and it joins the
-- dead set with its reason.
-- KEYS[1]: key base.
-- ARGV[1]: key base, [2] job id, [3] token, [4] reason, [5] cause (a DeathCause word).
-- Returns: 1 dead, 0 refused (the token no longer holds the job).
local id, token = ARGV[2], ARGV[3]
local jkey = held_job(id, token)
if not jkey then return 0 end
end_attempt(id, jkey, token)
bury(id, jkey, ARGV[5], ARGV[4], now_ms())
return 1
