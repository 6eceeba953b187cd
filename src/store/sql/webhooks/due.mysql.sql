-- The deliveries due now, locked for the claim that follows in the same transaction;
-- rows another claimer holds are skipped, not waited for. MySQL's UPDATE returns no
-- rows, so the claim is this SELECT and one webhooks/claim.mysql.sql per row.
-- $1: now (ms), $2: how many at most
SELECT id, run_id, url, attempts FROM quire_webhook_deliveries
WHERE delivered_at IS NULL AND next_attempt_at <= $1
ORDER BY next_attempt_at
LIMIT $2
FOR UPDATE SKIP LOCKED
