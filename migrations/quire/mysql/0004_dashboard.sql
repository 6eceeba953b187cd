-- What the dashboard shows beyond a run's row: each attempt's events (which worker,
-- when, how it ended, the lock waits before it), a read-only access for keys, and the
-- index the overview's per-minute chart and timings read the last hour from.

CREATE TABLE quire_run_events (
    run_id          VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    at              BIGINT NOT NULL,
    -- started, succeeded, retried, deferred, failed or dead
    kind            VARCHAR(16) NOT NULL,
    attempt         INTEGER NOT NULL,
    worker          VARCHAR(255) NOT NULL,
    -- The client-facing reason (errors are redacted before they reach the queue).
    detail          TEXT,
    delay_ms        BIGINT,
    KEY quire_run_events_run (run_id, at),
    CONSTRAINT quire_run_events_run_fk FOREIGN KEY (run_id)
        REFERENCES quire_runs (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- 'full', or 'read_only': sees what the key's scope sees and changes nothing.
ALTER TABLE quire_api_keys ADD COLUMN access VARCHAR(16) NOT NULL DEFAULT 'full';

CREATE INDEX quire_runs_finished ON quire_runs (finished_at, status);
