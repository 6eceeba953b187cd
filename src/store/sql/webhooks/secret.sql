-- The secret a run's deliveries are signed with: its API key's.
-- $1: run id
SELECT k.webhook_secret FROM quire_runs r JOIN quire_api_keys k ON k.id = r.api_key_id WHERE r.id = $1
