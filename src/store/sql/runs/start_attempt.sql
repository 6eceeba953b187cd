-- Starts an attempt of a queued or running run: the attempt's fencing token replaces
-- any earlier one, which is what locks a stale worker out.
-- $1: run id, $2: fencing token, $3: attempt number, $4: now (ms)
UPDATE quire_runs
SET status = 'running', fence = $2, attempts = $3, started_at = COALESCE(started_at, $4),
    progress_rows = 0
WHERE id = $1 AND status IN ('queued', 'running')
