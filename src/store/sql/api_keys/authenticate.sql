-- The live key with this hash.
-- $1: key hash
SELECT id, tenant, access FROM quire_api_keys WHERE key_hash = $1 AND revoked_at IS NULL
