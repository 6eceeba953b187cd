-- Revokes a live key.
-- $1: key id, $2: now (ms)
UPDATE quire_api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL
