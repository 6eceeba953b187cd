-- Deletes a run (its download tokens go with it by foreign key).
-- $1: run id
DELETE FROM quire_runs WHERE id = $1
