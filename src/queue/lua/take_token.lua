-- take_token: takes one token from a token bucket, for rate limits.
-- KEYS[1]: key base.
-- ARGV[1]: key base; ARGV[2]: the bucket's name; ARGV[3]: capacity (tokens, and the
--   burst); ARGV[4]: tokens added per second.
-- Returns: 0 when a token was taken, else the milliseconds until one will be there.
-- The bucket is a hash `bucket:<name>` {tokens, at}; it expires once it would be full
-- again, so idle callers leave nothing behind.
local key = base .. 'bucket:' .. ARGV[2]
local capacity = tonumber(ARGV[3])
local rate = tonumber(ARGV[4])
local now = now_ms()
local stored = redis.call('HMGET', key, 'tokens', 'at')
local tokens = tonumber(stored[1]) or capacity
local at = tonumber(stored[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate / 1000)
if tokens < 1 then
  return math.ceil((1 - tokens) * 1000 / rate)
end
tokens = tokens - 1
redis.call('HSET', key, 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', key, math.ceil((capacity - tokens) * 1000 / rate) + 1000)
return 0
