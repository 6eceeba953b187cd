-- Claims one locked due delivery by moving its next attempt to the end of the claim.
-- $1: delivery id, $2: end of the claim (ms)
UPDATE quire_webhook_deliveries SET next_attempt_at = $2 WHERE id = $1
