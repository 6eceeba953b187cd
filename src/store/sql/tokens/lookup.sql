-- The run and expiry of a presented token.
-- $1: token hash
SELECT run_id, expires_at FROM quire_download_tokens WHERE token_hash = $1
