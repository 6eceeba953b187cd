-- A new API key, stored as its hash.
-- $1: id, $2: key hash, $3: tenant or NULL (admin), $4: webhook URL or NULL,
-- $5: webhook secret or NULL, $6: now (ms), $7: access ('full' or 'read_only')
INSERT INTO quire_api_keys (id, key_hash, tenant, webhook_url, webhook_secret, created_at, access)
VALUES ($1, $2, $3, $4, $5, $6, $7)
