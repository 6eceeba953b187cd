-- How many runs of a tenant wait in the queue: the per-tenant cap counts them.
-- $1: the tenant's slug
SELECT COUNT(*) FROM quire_runs WHERE tenant = $1 AND status = 'queued'
