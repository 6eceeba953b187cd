-- One transaction of SQLite's group commit: new queued runs, each with its first
-- download token and its idempotency key. SQLite has no writing CTE, so the inserts
-- run one after the other; a run identical to a queued or running one is not inserted
-- and returns no row, and its token and key, which join on the runs inserted, are not
-- written either. One text for any number of runs, so that the statement cache holds
-- one copy. Every row must be read for every statement to run.
-- $1: a JSON array of objects with the keys id, tenant, report, format, params,
--     options, identity, api_key_id, now, token_hash, token_expires, key,
--     request_hash (see RunBinds)
BEGIN IMMEDIATE;
INSERT INTO quire_runs (id, tenant, report, format, params, options, identity, status,
                  api_key_id, created_at)
SELECT value ->> 'id', value ->> 'tenant', value ->> 'report', value ->> 'format',
       value ->> 'params', value ->> 'options', value ->> 'identity', 'queued',
       value ->> 'api_key_id', value ->> 'now'
FROM json_each($1) WHERE true
ON CONFLICT (identity) WHERE status IN ('queued', 'running') DO NOTHING
RETURNING *;
INSERT INTO quire_download_tokens (token_hash, run_id, created_at, expires_at)
SELECT value ->> 'token_hash', quire_runs.id, quire_runs.created_at, value ->> 'token_expires'
FROM json_each($1) JOIN quire_runs ON quire_runs.id = value ->> 'id';
INSERT INTO quire_idempotency_keys (tenant, idempotency_key, request_hash, run_id, created_at)
SELECT quire_runs.tenant, value ->> 'key', value ->> 'request_hash', quire_runs.id, quire_runs.created_at
FROM json_each($1) JOIN quire_runs ON quire_runs.id = value ->> 'id'
WHERE value ->> 'key' IS NOT NULL;
COMMIT
