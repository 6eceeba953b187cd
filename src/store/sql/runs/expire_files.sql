-- Forgets the files that expired before now.
-- $1: now (ms)
UPDATE quire_runs SET file_path = NULL WHERE file_path IS NOT NULL AND expires_at < $1
