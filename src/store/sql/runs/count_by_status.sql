-- How many runs are in each status, for the metrics; read off the status index.
SELECT status, COUNT(*) FROM quire_runs GROUP BY status
