-- The run with this id.
-- $1: run id
SELECT * FROM quire_runs WHERE id = $1
