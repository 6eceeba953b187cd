-- The files that expired before now (read before they are forgotten).
-- $1: now (ms)
SELECT file_path FROM quire_runs WHERE file_path IS NOT NULL AND expires_at < $1
