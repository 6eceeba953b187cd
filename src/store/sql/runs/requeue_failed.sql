-- Puts a failed run back in the queue under its id, as if new, but for its fencing
-- token: the next attempt's must be above it. Fails on the partial unique index when
-- an identical run is queued or running.
-- $1: run id
UPDATE quire_runs
SET status = 'queued', attempts = 0, error_code = NULL,
    error_message = NULL, finished_at = NULL, started_at = NULL, progress_rows = 0
WHERE id = $1 AND status = 'failed'
