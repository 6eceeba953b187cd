-- A request within its reuse window looks for the newest completed run of its identity.
CREATE INDEX quire_runs_identity_finished ON quire_runs (identity, finished_at);
