-- quire's own state. Identical in both databases: ids are text (UUID v7 for runs, so
-- they sort by time), times are integer milliseconds since the Unix epoch.

CREATE TABLE quire_runs (
    id              TEXT PRIMARY KEY,
    tenant          TEXT NOT NULL,
    report          TEXT NOT NULL,
    format          TEXT NOT NULL,
    params          TEXT NOT NULL,
    options         TEXT NOT NULL,
    -- SHA-256 of tenant, report, format, canonical params and options: what
    -- deduplication compares.
    identity        TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    progress_rows   BIGINT NOT NULL DEFAULT 0,
    -- The fencing token of the attempt allowed to write the outcome.
    fence           TEXT,
    error_code      TEXT,
    error_message   TEXT,
    file_path       TEXT,
    file_bytes      BIGINT,
    file_sha256     TEXT,
    file_rows       BIGINT,
    api_key_id      TEXT,
    created_at      BIGINT NOT NULL,
    started_at      BIGINT,
    finished_at     BIGINT,
    expires_at      BIGINT
);
-- At most one queued-or-running run per identity: enforced here, not by a lock.
CREATE UNIQUE INDEX quire_runs_one_active_per_identity ON quire_runs (identity)
    WHERE status IN ('queued', 'running');
CREATE INDEX quire_runs_tenant_created ON quire_runs (tenant, id);
CREATE INDEX quire_runs_status ON quire_runs (status);

CREATE TABLE quire_download_tokens (
    token_hash      TEXT PRIMARY KEY,
    run_id          TEXT NOT NULL REFERENCES quire_runs(id) ON DELETE CASCADE,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX quire_download_tokens_run ON quire_download_tokens (run_id);

CREATE TABLE quire_idempotency_keys (
    tenant          TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant, idempotency_key)
);

CREATE TABLE quire_api_keys (
    id              TEXT PRIMARY KEY,
    key_hash        TEXT NOT NULL UNIQUE,
    -- NULL for an admin key.
    tenant          TEXT,
    webhook_url     TEXT,
    webhook_secret  TEXT,
    created_at      BIGINT NOT NULL,
    revoked_at      BIGINT
);

CREATE TABLE quire_webhook_deliveries (
    id              TEXT PRIMARY KEY,
    run_id          TEXT NOT NULL,
    url             TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    delivered_at    BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX quire_webhook_deliveries_due ON quire_webhook_deliveries (next_attempt_at)
    WHERE delivered_at IS NULL;
