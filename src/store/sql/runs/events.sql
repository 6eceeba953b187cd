-- A run's history, oldest first, read off (run_id, at).
-- $1: run id
SELECT at, kind, attempt, worker, detail, delay_ms FROM quire_run_events
WHERE run_id = $1
ORDER BY at, attempt
