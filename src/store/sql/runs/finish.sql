-- Ends an unfinished run with a status and an error, while the fence holds: a NULL
-- fencing token or attempt count matches any.
-- $1: run id, $2: fencing token or NULL, $3: status, $4: error code,
-- $5: error message, $6: now (ms), $7: attempts started, or NULL
UPDATE quire_runs
SET status = $3, error_code = $4, error_message = $5, finished_at = $6
WHERE id = $1 AND status IN ('queued', 'running')
  AND ($2 IS NULL OR fence = $2) AND ($7 IS NULL OR attempts = $7)
