-- The newest completed run with this identity that finished at or after $2 and whose
-- file is still downloadable: what a request within its reuse window is answered with.
-- $1: identity hash, $2: earliest finish (ms), $3: now (ms)
SELECT * FROM quire_runs
WHERE identity = $1 AND status = 'completed' AND finished_at >= $2
  AND file_path IS NOT NULL AND expires_at > $3
ORDER BY finished_at DESC
LIMIT 1
