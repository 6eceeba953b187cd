-- What the dashboard shows beyond a run's row: each attempt's events (which worker,
-- when, how it ended, the lock waits before it), a read-only access for keys, and the
-- index the overview's per-minute chart and timings read the last hour from.

CREATE TABLE quire_run_events (
    run_id          TEXT NOT NULL REFERENCES quire_runs(id) ON DELETE CASCADE,
    at              BIGINT NOT NULL,
    -- started, succeeded, retried, deferred, failed or dead
    kind            TEXT NOT NULL,
    attempt         INTEGER NOT NULL,
    worker          TEXT NOT NULL,
    -- The client-facing reason (errors are redacted before they reach the queue).
    detail          TEXT,
    delay_ms        BIGINT
);
CREATE INDEX quire_run_events_run ON quire_run_events (run_id, at);

-- 'full', or 'read_only': sees what the key's scope sees and changes nothing.
ALTER TABLE quire_api_keys ADD COLUMN access TEXT NOT NULL DEFAULT 'full';

CREATE INDEX quire_runs_finished ON quire_runs (finished_at, status);
