-- A run's webhook deliveries, oldest first.
-- $1: run id
SELECT url, attempts, delivered_at, last_error, next_attempt_at FROM quire_webhook_deliveries
WHERE run_id = $1
ORDER BY created_at
