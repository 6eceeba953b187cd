-- Remembers which run a tenant's idempotency key led to; an existing entry is kept
-- (MySQL's spelling of ON CONFLICT DO NOTHING, which, unlike INSERT IGNORE, turns no
-- other error into a warning).
-- $1: tenant, $2: key, $3: request hash, $4: run id, $5: now (ms)
INSERT INTO quire_idempotency_keys (tenant, idempotency_key, request_hash, run_id, created_at)
VALUES ($1, $2, $3, $4, $5)
ON DUPLICATE KEY UPDATE run_id = run_id
