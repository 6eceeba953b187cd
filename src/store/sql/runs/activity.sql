-- Runs completed and failed per minute since a time, read off (finished_at, status).
-- $1: since (ms)
SELECT finished_at / 60000 AS minute, status, COUNT(*) AS runs FROM quire_runs
WHERE finished_at >= $1 AND status IN ('completed', 'failed')
GROUP BY finished_at / 60000, status
