-- Deliveries not yet made, and those of them whose endpoint already failed at least
-- once, for the metrics; read off the partial index of undelivered ones.
SELECT COUNT(*), COUNT(CASE WHEN attempts > 0 THEN 1 END)
FROM quire_webhook_deliveries
WHERE delivered_at IS NULL
