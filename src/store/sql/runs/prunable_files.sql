-- The files of the finished runs created before the cutoff (read before they are
-- pruned).
-- $1: cutoff (ms)
SELECT file_path FROM quire_runs WHERE status NOT IN ('queued', 'running') AND created_at < $1
