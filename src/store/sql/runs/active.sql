-- Runs still queued or running, oldest first: the sweep checks each has its job.
-- $1: how many at most
SELECT * FROM quire_runs WHERE status IN ('queued', 'running') ORDER BY id LIMIT $1
