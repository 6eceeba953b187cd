-- The request hash and run remembered for a tenant's idempotency key.
-- $1: tenant, $2: key
SELECT request_hash, run_id FROM idempotency_keys WHERE tenant = $1 AND key = $2
