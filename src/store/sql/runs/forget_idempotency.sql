-- Forgets the idempotency key of a run about to be deleted.
-- $1: run id
DELETE FROM quire_idempotency_keys WHERE run_id = $1
