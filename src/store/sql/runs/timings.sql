-- The times of the latest runs completed since a time, for wait and run time
-- percentiles, read off (finished_at, status) newest first and bounded.
-- $1: since (ms), $2: the most runs to read
SELECT report, created_at, started_at, finished_at FROM quire_runs
WHERE finished_at >= $1 AND status = 'completed' AND started_at IS NOT NULL
ORDER BY finished_at DESC
LIMIT $2
