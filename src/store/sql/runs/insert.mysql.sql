-- A new queued run, the first statement of the transaction that writes it with its
-- first download token (tokens/insert.sql) and idempotency key
-- (idempotency/insert_new.sql). A run identical to a queued or running one fails on
-- the unique index over active_identity, and the transaction is rolled back.
-- $1: run id, $2: tenant, $3: report, $4: format, $5: canonical params (JSON),
-- $6: output options (JSON), $7: identity hash, $8: API key id or NULL, $9: now (ms)
INSERT INTO quire_runs (id, tenant, report, format, params, options, identity, status,
                        api_key_id, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', $8, $9)
