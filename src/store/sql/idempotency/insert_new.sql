-- Remembers which run a new request's idempotency key led to; fails on the primary
-- key when a concurrent request took the key first.
-- $1: tenant, $2: key, $3: request hash, $4: run id, $5: now (ms)
INSERT INTO quire_idempotency_keys (tenant, idempotency_key, request_hash, run_id, created_at)
VALUES ($1, $2, $3, $4, $5)
