-- The live key with this public id.
-- $1: key id
SELECT id, tenant, access FROM quire_api_keys WHERE id = $1 AND revoked_at IS NULL
