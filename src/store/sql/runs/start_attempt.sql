-- Starts an attempt of a queued or running run: the attempt's fencing token replaces
-- an earlier one, which is what locks a stale worker out. Only a newer token may: an
-- attempt that was stalled before it got here, and was recovered and reserved again
-- meanwhile, must not take the run back. Tokens are decimal integers without leading
-- zeros, so a longer one is larger, and among equally long ones text order is number
-- order (no cast, which each database spells differently).
-- $1: run id, $2: fencing token, $3: attempt number, $4: now (ms)
UPDATE quire_runs
SET status = 'running', fence = $2, attempts = $3, started_at = COALESCE(started_at, $4),
    progress_rows = 0
WHERE id = $1 AND status IN ('queued', 'running')
  AND (fence IS NULL OR LENGTH(fence) < LENGTH($2)
       OR (LENGTH(fence) = LENGTH($2) AND fence < $2))
