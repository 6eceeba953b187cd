-- The per-tenant cap on queued runs counts a tenant's queued runs at every enqueue.
CREATE INDEX quire_runs_tenant_status ON quire_runs (tenant, status);
