-- quire's own state on MySQL and MariaDB: the same tables and columns as on SQLite and
-- PostgreSQL. Ids and hashes are ASCII, compared byte for byte; tenant slugs, report
-- names and idempotency keys are compared byte for byte too (utf8mb4_bin), so that
-- "Acme" and "acme" stay two tenants. Times are integer milliseconds since the epoch.
-- Hashes are VARCHAR, not CHAR: MariaDB refuses a generated column over a CHAR, whose
-- value depends on the PAD_CHAR_TO_FULL_LENGTH mode.

CREATE TABLE quire_runs (
    id              VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    tenant          VARCHAR(128) NOT NULL,
    report          VARCHAR(255) NOT NULL,
    format          VARCHAR(16) NOT NULL,
    params          MEDIUMTEXT NOT NULL,
    options         TEXT NOT NULL,
    -- SHA-256 of tenant, report, format, canonical params and options: what
    -- deduplication compares.
    identity        VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    status          VARCHAR(16) NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    progress_rows   BIGINT NOT NULL DEFAULT 0,
    -- The fencing token of the attempt allowed to write the outcome.
    fence           VARCHAR(128),
    error_code      VARCHAR(128),
    error_message   TEXT,
    file_path       TEXT,
    file_bytes      BIGINT,
    file_sha256     VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin,
    file_rows       BIGINT,
    api_key_id      VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin,
    created_at      BIGINT NOT NULL,
    started_at      BIGINT,
    finished_at     BIGINT,
    expires_at      BIGINT,
    -- MySQL has no partial index: the identity while the run is queued or running,
    -- NULL once it has finished, and a unique index (which admits any number of NULLs)
    -- keeps at most one queued-or-running run per identity.
    active_identity VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin
        AS (CASE WHEN status IN ('queued', 'running') THEN identity END) STORED,
    UNIQUE KEY quire_runs_one_active_per_identity (active_identity),
    KEY quire_runs_tenant_created (tenant, id),
    KEY quire_runs_status (status)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE quire_download_tokens (
    token_hash      VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    run_id          VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    KEY quire_download_tokens_run (run_id),
    CONSTRAINT quire_download_tokens_run_fk FOREIGN KEY (run_id)
        REFERENCES quire_runs (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE quire_idempotency_keys (
    tenant          VARCHAR(128) NOT NULL,
    idempotency_key VARCHAR(255) NOT NULL,
    request_hash    VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    run_id          VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant, idempotency_key)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE quire_api_keys (
    id              VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    key_hash        VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL UNIQUE,
    -- NULL for an admin key.
    tenant          VARCHAR(128),
    webhook_url     TEXT,
    webhook_secret  TEXT,
    created_at      BIGINT NOT NULL,
    revoked_at      BIGINT
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE quire_webhook_deliveries (
    id              VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    run_id          VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    url             TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    delivered_at    BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    -- The due deliveries are those with delivered_at NULL: an equality prefix here.
    KEY quire_webhook_deliveries_due (delivered_at, next_attempt_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
