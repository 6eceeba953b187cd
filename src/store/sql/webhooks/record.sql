-- The outcome of one delivery attempt.
-- $1: delivery id, $2: delivered at (ms) or NULL, $3: error or NULL,
-- $4: next attempt at (ms)
UPDATE quire_webhook_deliveries
SET attempts = attempts + 1, delivered_at = $2, last_error = $3, next_attempt_at = $4
WHERE id = $1
