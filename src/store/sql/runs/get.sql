-- The run with this id.
-- $1: run id
SELECT * FROM runs WHERE id = $1
