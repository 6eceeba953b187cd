-- Deletes the finished runs created before the cutoff.
-- $1: cutoff (ms)
DELETE FROM quire_runs WHERE status NOT IN ('queued', 'running') AND created_at < $1
