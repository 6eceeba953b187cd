-- One page of one tenant's runs, newest first: `list.sql` with the tenant given, so
-- that every database reads it off (tenant, id) rather than scanning all runs for the
-- tenant's (SQLite plans `$1 IS NULL OR tenant = $1` without looking at $1).
-- $1: tenant, $2: status or NULL, $3: report or NULL,
-- $4: only ids below this one, or NULL; $5: page size + 1 (the extra row says a next
-- page exists); $6: format or NULL; $7: only ids from this one on, or NULL
SELECT * FROM quire_runs
WHERE tenant = $1 AND ($2 IS NULL OR status = $2)
  AND ($3 IS NULL OR report = $3) AND ($4 IS NULL OR id < $4)
  AND ($6 IS NULL OR format = $6) AND ($7 IS NULL OR id >= $7)
ORDER BY id DESC
LIMIT $5
