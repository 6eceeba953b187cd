-- Deletes the deliveries created before the cutoff, delivered or not.
-- $1: cutoff (ms)
DELETE FROM webhook_deliveries WHERE created_at < $1
