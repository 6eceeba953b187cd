-- A new queued run with its first download token and, when the request had one, its
-- idempotency key, in one atomic statement: one round trip where BEGIN, the inserts and
-- COMMIT would take one each. A run identical to a queued or running one is not
-- inserted; `run` is then empty and neither token nor key is written. Returns the run
-- as stored, or no row.
-- $1: run id, $2: tenant, $3: report, $4: format, $5: canonical params (JSON),
-- $6: output options (JSON), $7: identity hash, $8: API key id or NULL,
-- $9: now (ms), $10: token hash, $11: token expiry (ms),
-- $12: idempotency key or NULL, $13: request hash or NULL
WITH run AS (
    INSERT INTO quire_runs (id, tenant, report, format, params, options, identity, status,
                      api_key_id, created_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', $8, $9)
    ON CONFLICT (identity) WHERE status IN ('queued', 'running') DO NOTHING
    RETURNING *
), token AS (
    INSERT INTO quire_download_tokens (token_hash, run_id, created_at, expires_at)
    SELECT $10, id, $9, $11 FROM run
), idempotency AS (
    INSERT INTO quire_idempotency_keys (tenant, idempotency_key, request_hash, run_id, created_at)
    SELECT $2, $12, $13, id, $9 FROM run WHERE $12 IS NOT NULL
)
SELECT * FROM run
