-- Deletes the deliveries created before the cutoff, delivered or not.
-- $1: cutoff (ms)
DELETE FROM quire_webhook_deliveries WHERE created_at < $1
