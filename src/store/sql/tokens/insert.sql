-- A download token, stored as its hash.
-- $1: token hash, $2: run id, $3: now (ms), $4: expiry (ms)
INSERT INTO quire_download_tokens (token_hash, run_id, created_at, expires_at)
VALUES ($1, $2, $3, $4)
