-- Deletes the tokens that expired before the cutoff.
-- $1: cutoff (ms)
DELETE FROM quire_download_tokens WHERE expires_at < $1
