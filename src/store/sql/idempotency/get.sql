-- The request hash and run remembered for a tenant's idempotency key.
-- $1: tenant, $2: key
SELECT request_hash, run_id FROM quire_idempotency_keys WHERE tenant = $1 AND idempotency_key = $2
