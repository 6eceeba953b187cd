-- The queued or running run with this identity (at most one: the partial unique
-- index on identity allows no second).
-- $1: identity hash
SELECT * FROM quire_runs WHERE identity = $1 AND status IN ('queued', 'running')
