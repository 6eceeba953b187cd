-- Rows written so far by the attempt holding the fence, while the run is running.
-- $1: run id, $2: fencing token, $3: rows
UPDATE quire_runs SET progress_rows = $3 WHERE id = $1 AND fence = $2 AND status = 'running'
