-- Claims deliveries due now by moving their next attempt to the end of the claim. The
-- outer conditions repeat the inner ones: a concurrent claimer that waited for our row
-- locks re-checks them against our update and skips these rows.
-- $1: now (ms), $2: end of the claim (ms), $3: how many at most
UPDATE quire_webhook_deliveries SET next_attempt_at = $2
WHERE id IN (SELECT id FROM quire_webhook_deliveries
             WHERE delivered_at IS NULL AND next_attempt_at <= $1
             ORDER BY next_attempt_at
             LIMIT $3)
  AND delivered_at IS NULL AND next_attempt_at <= $1
RETURNING id, run_id, url, CAST(attempts AS BIGINT) AS attempts
