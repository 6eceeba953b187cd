-- Queues a delivery of a run's final state, when its API key has a webhook. Runs in
-- the transaction that ends the run.
-- $1: delivery id, $2: now (ms), $3: run id
INSERT INTO quire_webhook_deliveries (id, run_id, url, next_attempt_at, created_at)
SELECT $1, r.id, k.webhook_url, $2, $2
FROM quire_runs r JOIN quire_api_keys k ON k.id = r.api_key_id
WHERE r.id = $3 AND k.webhook_url IS NOT NULL
