-- The dashboard benchmark's runs: $1 of them spread evenly over the day before $2 (ms),
-- over 50 tenants, 3 reports and both formats; 97 in 100 completed, 2 failed, 1 queued.
-- Ids sort by creation time, as real ones (UUIDv7) do. SQLite and PostgreSQL.
-- $1: runs, $2: now (ms)
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1),
timed AS (
    SELECT i, $2 - ($1 - i) * (86400000 / $1) AS created_at,
           CASE WHEN i % 100 = 0 THEN 'queued' WHEN i % 50 = 1 THEN 'failed'
                ELSE 'completed' END AS status
    FROM n
)
INSERT INTO quire_runs (id, tenant, report, format, params, options, identity, status,
                        attempts, progress_rows, created_at, started_at, finished_at)
SELECT CAST(created_at AS TEXT) || '-' || CAST(1000000 + i AS TEXT),
       'tenant-' || CAST(i % 50 AS TEXT),
       CASE i % 3 WHEN 0 THEN 'invoices' WHEN 1 THEN 'aged_receivables' ELSE 'tax_summary' END,
       CASE i % 2 WHEN 0 THEN 'csv' ELSE 'xlsx' END,
       '{}', '{}', 'bench-' || CAST(i AS TEXT), status,
       CASE status WHEN 'queued' THEN 0 ELSE 1 END, 100,
       created_at,
       CASE status WHEN 'queued' THEN NULL ELSE created_at + (i % 7) * 100 END,
       CASE status WHEN 'queued' THEN NULL ELSE created_at + (i % 7) * 100 + 500 + (i % 13) * 100 END
FROM timed
