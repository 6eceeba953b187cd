-- wrk script: POST /v1/reports with a distinct valid body on every request.
--
-- Each request asks for the `invoices` report over a custom date range that no other
-- request of the run uses, so deduplication never returns an existing run: every 202
-- is a new run row committed and a new job pushed.
--
--   QUIRE_TENANT  tenant slug (default acme); the key is passed on wrk's command line
--                 with -H "Authorization: Bearer ...".
--
-- done() prints how many answers were 202 (new runs) and how many were anything else,
-- since wrk itself counts a 200 (deduplicated) or a 4xx/5xx body as a request too.

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local tenant = os.getenv("QUIRE_TENANT") or "acme"
-- 2000-01-01 at noon UTC, so adding whole days never lands on a day boundary.
local first_day = os.time({ year = 2000, month = 1, day = 1, hour = 12 })
local day = 86400
local sent = 0
created = 0
other = 0

function init(args)
  wrk.method = "POST"
  wrk.path = "/v1/reports"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  -- Request k of thread `id` (set by setup, up to 64 threads) starts on day
  -- (k / 1000) * 64 + id and lasts k % 1000 days: the start day tells the thread and
  -- the thousand, the length the rest, so no two requests share a range.
  local start_day = math.floor(sent / 1000) * 64 + id
  local end_day = start_day + sent % 1000
  sent = sent + 1
  local body = string.format(
    '{"tenant":"%s","report":"invoices","format":"csv","params":'
      .. '{"period":"custom","start_date":"%s","end_date":"%s"}}',
    tenant,
    os.date("!%Y-%m-%d", first_day + start_day * day),
    os.date("!%Y-%m-%d", first_day + end_day * day))
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status == 202 then
    created = created + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local ok, bad = 0, 0
  for _, thread in ipairs(threads) do
    ok = ok + thread:get("created")
    bad = bad + thread:get("other")
  end
  io.write(string.format("runs created (202): %d, other answers: %d\n", ok, bad))
end
