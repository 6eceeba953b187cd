-- One committed change of a run's job, for the run's history.
-- $1: run id, $2: at (ms), $3: kind, $4: attempt, $5: worker id, $6: detail or NULL,
-- $7: delay (ms) or NULL
INSERT INTO quire_run_events (run_id, at, kind, attempt, worker, detail, delay_ms)
SELECT $1, $2, $3, $4, $5, $6, $7 FROM quire_runs WHERE id = $1
