-- Forgets the keys created before the cutoff.
-- $1: cutoff (ms)
DELETE FROM quire_idempotency_keys WHERE created_at < $1
