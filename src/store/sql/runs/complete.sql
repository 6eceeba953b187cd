-- Completes a running run with its file, only for the attempt holding the fence.
-- $1: run id, $2: fencing token, $3: now (ms), $4: file expiry (ms), $5: file path,
-- $6: bytes, $7: SHA-256, $8: rows
UPDATE quire_runs
SET status = 'completed', finished_at = $3, expires_at = $4, file_path = $5,
    file_bytes = $6, file_sha256 = $7, file_rows = $8, progress_rows = $8,
    error_code = NULL, error_message = NULL
WHERE id = $1 AND fence = $2 AND status = 'running'
