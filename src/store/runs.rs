//! Report runs: enqueue with deduplication, the fenced attempt lifecycle, and the
//! queries behind the API.

use serde::{Deserialize, Serialize};

use super::{Store, StoreError, in_write_tx, on_pool, on_writer};
use crate::catalog::ResolvedParams;
use crate::db::Db;
use crate::writer::{Format, OutputOptions};

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Queued,
    Running,
    Completed,
    Failed,
    Discarded,
    Cancelled,
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl RunStatus {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Discarded => "discarded",
            RunStatus::Cancelled => "cancelled",
        }
    }

    /// Parses a stored or requested status word.
    pub fn parse(text: &str) -> Option<RunStatus> {
        [
            RunStatus::Queued,
            RunStatus::Running,
            RunStatus::Completed,
            RunStatus::Failed,
            RunStatus::Discarded,
            RunStatus::Cancelled,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }

    /// Whether the run has reached its end.
    pub fn is_finished(self) -> bool {
        !matches!(self, RunStatus::Queued | RunStatus::Running)
    }
}

/// Why a run failed, was discarded or cancelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunError {
    /// A stable snake_case word.
    pub code: String,
    /// A message fit for the client: no SQL, no paths.
    pub message: String,
}

/// The file of a completed run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunFile {
    #[serde(skip)]
    pub path: String,
    pub bytes: i64,
    pub sha256: String,
    pub rows: i64,
}

/// One report run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    pub id: String,
    pub tenant: String,
    pub report: String,
    pub format: Format,
    pub params: ResolvedParams,
    pub options: OutputOptions,
    #[serde(skip)]
    pub identity: String,
    pub status: RunStatus,
    pub attempts: i64,
    pub progress_rows: i64,
    #[serde(skip)]
    pub fence: Option<String>,
    pub error: Option<RunError>,
    pub file: Option<RunFile>,
    #[serde(skip)]
    pub api_key_id: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub expires_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
pub(super) struct RunRow {
    pub(super) id: String,
    tenant: String,
    report: String,
    format: String,
    params: String,
    options: String,
    identity: String,
    status: String,
    attempts: i64,
    progress_rows: i64,
    fence: Option<String>,
    error_code: Option<String>,
    error_message: Option<String>,
    file_path: Option<String>,
    file_bytes: Option<i64>,
    file_sha256: Option<String>,
    file_rows: Option<i64>,
    api_key_id: Option<String>,
    created_at: i64,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    expires_at: Option<i64>,
}

const COLUMNS: &str = "id, tenant, report, format, params, options, identity, status, \
     CAST(attempts AS BIGINT) AS attempts, progress_rows, fence, error_code, error_message, \
     file_path, file_bytes, file_sha256, file_rows, api_key_id, created_at, started_at, \
     finished_at, expires_at";

impl TryFrom<RunRow> for Run {
    type Error = StoreError;

    fn try_from(row: RunRow) -> Result<Run, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("run {}: {what}", row.id));
        let file = match (
            row.file_path,
            row.file_bytes,
            row.file_sha256,
            row.file_rows,
        ) {
            (Some(path), Some(bytes), Some(sha256), Some(rows)) => Some(RunFile {
                path,
                bytes,
                sha256,
                rows,
            }),
            _ => None,
        };
        Ok(Run {
            format: row.format.parse().map_err(|_| corrupt("format"))?,
            params: serde_json::from_str(&row.params).map_err(|_| corrupt("params"))?,
            options: serde_json::from_str(&row.options).map_err(|_| corrupt("options"))?,
            status: RunStatus::parse(&row.status).ok_or_else(|| corrupt("status"))?,
            error: row.error_code.map(|code| RunError {
                code,
                message: row.error_message.unwrap_or_default(),
            }),
            file,
            id: row.id,
            tenant: row.tenant,
            report: row.report,
            identity: row.identity,
            attempts: row.attempts,
            progress_rows: row.progress_rows,
            fence: row.fence,
            api_key_id: row.api_key_id,
            created_at: row.created_at,
            started_at: row.started_at,
            finished_at: row.finished_at,
            expires_at: row.expires_at,
        })
    }
}

/// A run to enqueue.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub tenant: String,
    pub report: String,
    pub format: Format,
    pub params: ResolvedParams,
    pub options: OutputOptions,
    pub api_key_id: Option<String>,
    /// `(key, hash of the request body)` when the client sent an `Idempotency-Key`.
    pub idempotency: Option<(String, String)>,
}

impl NewRun {
    /// What deduplication compares: tenant, report, format, canonical parameters and
    /// output options.
    pub fn identity(&self) -> String {
        let options = serde_json::to_string(&self.options).expect("options serialize");
        super::sha256_hex(&[
            self.tenant.as_bytes(),
            self.report.as_bytes(),
            self.format.extension().as_bytes(),
            self.params.canonical().as_bytes(),
            options.as_bytes(),
        ])
    }
}

/// What enqueueing a run produced.
#[derive(Debug, Clone)]
pub struct EnqueueOutcome {
    pub run: Run,
    /// True when an identical queued-or-running run (or the idempotency key's earlier
    /// run) was returned instead of a new one.
    pub deduplicated: bool,
    /// A fresh download token for the run.
    pub token: String,
}

/// The values a new run is written with: the run's, its first download token's and its
/// idempotency key's. Owned, so that SQLite's group commit can take them to its task,
/// and serialized as one JSON object per run for it.
#[derive(Serialize)]
pub(super) struct RunBinds {
    pub(super) id: String,
    tenant: String,
    report: String,
    format: &'static str,
    params: String,
    options: String,
    identity: String,
    api_key_id: Option<String>,
    now: i64,
    token_hash: String,
    token_expires: i64,
    key: Option<String>,
    request_hash: Option<String>,
}

impl RunBinds {
    /// The values of `new` as a run created `now` under a fresh id, with the download
    /// token hashed as `token_hash`.
    pub(super) fn new(
        new: &NewRun,
        identity: &str,
        now: i64,
        token_hash: String,
        token_ttl_ms: i64,
    ) -> RunBinds {
        let (key, request_hash) = new.idempotency.clone().unzip();
        RunBinds {
            id: uuid::Uuid::now_v7().to_string(),
            tenant: new.tenant.clone(),
            report: new.report.clone(),
            format: new.format.extension(),
            params: new.params.canonical(),
            options: serde_json::to_string(&new.options).expect("options serialize"),
            identity: identity.to_owned(),
            api_key_id: new.api_key_id.clone(),
            now,
            token_hash,
            token_expires: now.saturating_add(token_ttl_ms),
            key,
            request_hash,
        }
    }
}

/// SQLite's insert of new runs, each with its token and idempotency key, from `$1`: a
/// JSON array of [`RunBinds`]. A run that meets an identical queued or running one is
/// not inserted and returns no row, and neither its token nor its key is written (they
/// join on the runs inserted). One statement text for any number of runs, so that
/// SQLite's statement cache holds one copy. Every row must be read so that every
/// statement runs.
pub(super) fn sqlite_insert_sql() -> String {
    format!(
        "INSERT INTO runs (id, tenant, report, format, params, options, identity, \
         status, api_key_id, created_at) \
         SELECT value ->> 'id', value ->> 'tenant', value ->> 'report', value ->> 'format', \
         value ->> 'params', value ->> 'options', value ->> 'identity', 'queued', \
         value ->> 'api_key_id', value ->> 'now' \
         FROM json_each($1) WHERE true \
         ON CONFLICT (identity) WHERE status IN ('queued', 'running') DO NOTHING \
         RETURNING {COLUMNS}; \
         INSERT INTO download_tokens (token_hash, run_id, created_at, expires_at) \
         SELECT value ->> 'token_hash', runs.id, runs.created_at, value ->> 'token_expires' \
         FROM json_each($1) JOIN runs ON runs.id = value ->> 'id'; \
         INSERT INTO idempotency_keys (tenant, key, request_hash, run_id, created_at) \
         SELECT runs.tenant, value ->> 'key', value ->> 'request_hash', runs.id, runs.created_at \
         FROM json_each($1) JOIN runs ON runs.id = value ->> 'id' \
         WHERE value ->> 'key' IS NOT NULL"
    )
}

/// What the insert of a run did.
enum Inserted {
    /// The new run as stored (boxed: a run is large beside the other variant), and its
    /// first download token.
    Run(Box<Run>, String),
    /// An identical run is queued or running: nothing was written.
    Conflict,
}

impl Inserted {
    /// The outcome of an insert that returned `row` when it wrote the run.
    fn from_row(row: Option<RunRow>, token: String) -> Result<Inserted, StoreError> {
        Ok(match row {
            Some(row) => Inserted::Run(Box::new(Run::try_from(row)?), token),
            None => Inserted::Conflict,
        })
    }
}

/// Who may end a run: the guard on [`Store::finish_run`].
#[derive(Debug, Clone, Copy)]
pub enum Fence<'a> {
    /// Only the attempt holding this fencing token (the handler's own outcome).
    Token(&'a str),
    /// Only while the run has started exactly this many attempts. A job's death seen
    /// in Redis ends the run only if the run was not retried since: a retry resets
    /// the count.
    Attempts(i64),
    /// Any writer, while the run has not finished (a cancel).
    Unfinished,
}

/// The outcome of starting an attempt.
#[derive(Debug, Clone)]
pub enum StartOutcome {
    /// The run is now `running`, fenced by this attempt.
    Started(Run),
    /// The row is gone.
    Missing,
    /// The run already ended (completed, cancelled, ...): nothing to build.
    Finished(Run),
}

/// Filters of `GET /v1/reports`.
#[derive(Debug, Clone, Default)]
pub struct RunQuery {
    /// Only this tenant's runs (`None`: every tenant, for admin keys).
    pub tenant: Option<String>,
    pub status: Option<RunStatus>,
    pub report: Option<String>,
    pub limit: i64,
    /// Runs older than this id (ids sort by time).
    pub before: Option<String>,
}

/// One page of runs, newest first.
#[derive(Debug, Clone)]
pub struct RunPage {
    pub runs: Vec<Run>,
    /// Pass as `before` for the next page.
    pub next: Option<String>,
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

impl Store {
    /// Inserts a queued run with a download token valid for `token_ttl_ms`, in one
    /// transaction, unless an identical run is queued or running (the partial unique
    /// index decides) or the idempotency key names an earlier run: then that run is
    /// returned, deduplicated, with a token minted for it.
    ///
    /// # Errors
    /// [`StoreError::IdempotencyConflict`] when the key was used with another request.
    pub async fn enqueue_run(
        &self,
        new: &NewRun,
        token_ttl_ms: i64,
    ) -> Result<EnqueueOutcome, StoreError> {
        let identity = new.identity();
        // Two attempts: a concurrent request can insert the same idempotency key
        // between our look-up and our insert, or the identical run that made ours
        // conflict can finish before we read it; the second pass then sees the change.
        for _ in 0..2 {
            let existing = match self.idempotent_run(new).await? {
                Some(run) => Some(run),
                None => match self.insert_run(new, &identity, token_ttl_ms).await {
                    Ok(Inserted::Run(run, token)) => {
                        return Ok(EnqueueOutcome {
                            run: *run,
                            deduplicated: false,
                            token,
                        });
                    }
                    Ok(Inserted::Conflict) => self.active_run(new, &identity).await?,
                    Err(StoreError::Unavailable(error)) if is_unique_violation(&error) => None,
                    Err(error) => return Err(error),
                },
            };
            if let Some(run) = existing {
                let token = self.mint_token(&run.id, token_ttl_ms).await?;
                return Ok(EnqueueOutcome {
                    run,
                    deduplicated: true,
                    token,
                });
            }
        }
        Err(StoreError::Corrupt(
            "a run neither inserted nor found after two attempts".into(),
        ))
    }

    /// The earlier run the request's idempotency key names, if it has one.
    async fn idempotent_run(&self, new: &NewRun) -> Result<Option<Run>, StoreError> {
        let Some((key, request_hash)) = &new.idempotency else {
            return Ok(None);
        };
        let Some((stored_hash, run_id)) = self.idempotency_key(&new.tenant, key).await? else {
            return Ok(None);
        };
        if &stored_hash != request_hash {
            return Err(StoreError::IdempotencyConflict);
        }
        self.run(&run_id).await
    }

    /// The queued or running run identical to `new`, remembered under its
    /// idempotency key.
    async fn active_run(&self, new: &NewRun, identity: &str) -> Result<Option<Run>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM runs WHERE identity = $1 AND status IN ('queued', 'running')"
        );
        let row: Option<RunRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(identity).fetch_optional(pool).await
        })?;
        let Some(run) = row.map(Run::try_from).transpose()? else {
            return Ok(None);
        };
        if let Some((key, request_hash)) = &new.idempotency {
            self.remember_idempotency_key(&new.tenant, key, request_hash, &run.id)
                .await?;
        }
        Ok(Some(run))
    }

    /// In one transaction: the run (unless an identical one is queued or running), its
    /// first download token and its idempotency key. The row comes back from the
    /// insert itself, as stored.
    async fn insert_run(
        &self,
        new: &NewRun,
        identity: &str,
        token_ttl_ms: i64,
    ) -> Result<Inserted, StoreError> {
        let (token, token_hash) = super::tokens::new_token();
        let binds = RunBinds::new(new, identity, self.now_ms(), token_hash, token_ttl_ms);
        let row = match &self.db {
            Db::Postgres(pool) => {
                // One statement, atomic on its own: one round trip where BEGIN, the
                // inserts and COMMIT would take one each. The token and the key are
                // written only beside a new run: `run` is empty after a conflict.
                let insert = format!(
                    "WITH run AS (\
                       INSERT INTO runs (id, tenant, report, format, params, options, \
                       identity, status, api_key_id, created_at) \
                       VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', $8, $9) \
                       ON CONFLICT (identity) WHERE status IN ('queued', 'running') \
                       DO NOTHING RETURNING {COLUMNS}), \
                     token AS (\
                       INSERT INTO download_tokens (token_hash, run_id, created_at, expires_at) \
                       SELECT $10, id, $9, $11 FROM run), \
                     idempotency AS (\
                       INSERT INTO idempotency_keys (tenant, key, request_hash, run_id, \
                       created_at) SELECT $2, $12, $13, id, $9 FROM run WHERE $12 IS NOT NULL) \
                     SELECT * FROM run"
                );
                sqlx::query_as(sqlx::AssertSqlSafe(insert))
                    .bind(&binds.id)
                    .bind(&binds.tenant)
                    .bind(&binds.report)
                    .bind(binds.format)
                    .bind(&binds.params)
                    .bind(&binds.options)
                    .bind(&binds.identity)
                    .bind(&binds.api_key_id)
                    .bind(binds.now)
                    .bind(&binds.token_hash)
                    .bind(binds.token_expires)
                    .bind(&binds.key)
                    .bind(&binds.request_hash)
                    .fetch_optional(pool)
                    .await?
            }
            // SQLite has no writing CTE: the statements run one after the other, in a
            // transaction shared with the other enqueues waiting at that moment.
            Db::Sqlite(pool) => self.sqlite_inserts(pool).insert(binds).await?,
        };
        Inserted::from_row(row, token)
    }

    /// The run `id`, if it exists.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn run(&self, id: &str) -> Result<Option<Run>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM runs WHERE id = $1");
        let row: Option<RunRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await
        })?;
        row.map(Run::try_from).transpose()
    }

    /// Removes a run whose job could not be pushed, with its idempotency key, so the
    /// enqueue is all-or-nothing.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn delete_run(&self, id: &str) -> Result<(), StoreError> {
        in_write_tx!(self, tx => {
            sqlx::query("DELETE FROM idempotency_keys WHERE run_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM runs WHERE id = $1").bind(id).execute(&mut *tx).await?;
        });
        Ok(())
    }

    /// Runs newest first, filtered, one page at a time.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn list_runs(&self, query: &RunQuery) -> Result<RunPage, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM runs \
             WHERE ($1 IS NULL OR tenant = $1) AND ($2 IS NULL OR status = $2) \
               AND ($3 IS NULL OR report = $3) AND ($4 IS NULL OR id < $4) \
             ORDER BY id DESC LIMIT $5"
        );
        let limit = query.limit.clamp(1, 200);
        let rows: Vec<RunRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(&query.tenant)
                .bind(query.status.map(RunStatus::as_str))
                .bind(&query.report)
                .bind(&query.before)
                .bind(limit + 1)
                .fetch_all(pool)
                .await
        })?;
        let mut runs = rows
            .into_iter()
            .map(Run::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        let next = if runs.len() as i64 > limit {
            runs.truncate(limit as usize);
            runs.last().map(|run| run.id.clone())
        } else {
            None
        };
        Ok(RunPage { runs, next })
    }

    /// Starts an attempt: the run becomes `running`, fenced by `token`, with
    /// `attempt` recorded. A later attempt's token replaces an earlier one's, which
    /// is what locks a stale worker out.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn start_attempt(
        &self,
        id: &str,
        token: &str,
        attempt: i64,
    ) -> Result<StartOutcome, StoreError> {
        let now = self.now_ms();
        let updated = on_writer!(self, pool => {
            sqlx::query(
                "UPDATE runs SET status = 'running', fence = $2, attempts = $3, \
                 started_at = COALESCE(started_at, $4), progress_rows = 0 \
                 WHERE id = $1 AND status IN ('queued', 'running')",
            )
            .bind(id)
            .bind(token)
            .bind(attempt)
            .bind(now)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        let run = self.run(id).await?;
        Ok(match run {
            None => StartOutcome::Missing,
            Some(run) if updated == 0 => StartOutcome::Finished(run),
            Some(run) => StartOutcome::Started(run),
        })
    }

    /// Records progress of the attempt holding `token`; false when that attempt no
    /// longer holds a running run (cancelled, or taken over).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn record_progress(
        &self,
        id: &str,
        token: &str,
        rows: i64,
    ) -> Result<bool, StoreError> {
        let updated = on_writer!(self, pool => {
            sqlx::query("UPDATE runs SET progress_rows = $3 WHERE id = $1 AND fence = $2 AND status = 'running'")
                .bind(id)
                .bind(token)
                .bind(rows)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(updated == 1)
    }

    /// Marks the run completed with `file`, only if the attempt holding `token` is
    /// still the run's attempt; queues the completion webhook in the same
    /// transaction. Returns false when the attempt was fenced out.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn complete_run(
        &self,
        id: &str,
        token: &str,
        file: &RunFile,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let now = self.now_ms();
        let updated = in_write_tx!(self, tx => {
            let updated = sqlx::query(
                "UPDATE runs SET status = 'completed', finished_at = $3, expires_at = $4, \
                 file_path = $5, file_bytes = $6, file_sha256 = $7, file_rows = $8, \
                 progress_rows = $8, error_code = NULL, error_message = NULL \
                 WHERE id = $1 AND fence = $2 AND status = 'running'",
            )
            .bind(id)
            .bind(token)
            .bind(now)
            .bind(expires_at)
            .bind(&file.path)
            .bind(file.bytes)
            .bind(&file.sha256)
            .bind(file.rows)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 1 {
                super::webhooks::queue_webhook!(tx, id, now);
            }
            updated
        });
        Ok(updated == 1)
    }

    /// Ends the run with `status` (failed, discarded or cancelled) and `error`, only
    /// while it has not finished and `fence` still holds. Returns false when nothing
    /// changed.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn finish_run(
        &self,
        id: &str,
        fence: Fence<'_>,
        status: RunStatus,
        error: &RunError,
    ) -> Result<bool, StoreError> {
        debug_assert!(status.is_finished() && status != RunStatus::Completed);
        let now = self.now_ms();
        let (token, attempts) = match fence {
            Fence::Token(token) => (Some(token), None),
            Fence::Attempts(attempts) => (None, Some(attempts)),
            Fence::Unfinished => (None, None),
        };
        let updated = in_write_tx!(self, tx => {
            let updated = sqlx::query(
                "UPDATE runs SET status = $3, error_code = $4, error_message = $5, finished_at = $6 \
                 WHERE id = $1 AND status IN ('queued', 'running') AND ($2 IS NULL OR fence = $2) \
                 AND ($7 IS NULL OR attempts = $7)",
            )
            .bind(id)
            .bind(token)
            .bind(status.as_str())
            .bind(&error.code)
            .bind(&error.message)
            .bind(now)
            .bind(attempts)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 1 {
                super::webhooks::queue_webhook!(tx, id, now);
            }
            updated
        });
        Ok(updated == 1)
    }

    /// Puts a failed run back in the queue under the same id, attempts reset. Returns
    /// the run; `None` when it does not exist. A run that is not failed is returned
    /// unchanged (a second retry while queued is a no-op).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn requeue_failed(&self, id: &str) -> Result<Option<(Run, bool)>, StoreError> {
        let updated = on_writer!(self, pool => {
            sqlx::query(
                "UPDATE runs SET status = 'queued', attempts = 0, fence = NULL, error_code = NULL, \
                 error_message = NULL, finished_at = NULL, started_at = NULL, progress_rows = 0 \
                 WHERE id = $1 AND status = 'failed'",
            )
            .bind(id)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        });
        let requeued = match updated {
            Ok(rows) => rows == 1,
            // An identical run is already queued: leave this one failed.
            Err(error) if is_unique_violation(&error) => false,
            Err(error) => return Err(error.into()),
        };
        Ok(self.run(id).await?.map(|run| (run, requeued)))
    }

    /// Runs still `queued` or `running`, oldest first: the sweep checks each has a job.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn active_runs(&self, limit: i64) -> Result<Vec<Run>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM runs WHERE status IN ('queued', 'running') ORDER BY id LIMIT $1"
        );
        let rows: Vec<RunRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(limit).fetch_all(pool).await
        })?;
        rows.into_iter().map(Run::try_from).collect()
    }

    /// Deletes finished runs older than `cutoff_ms` and returns their file paths, so
    /// the caller can remove the files.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn prune_runs(&self, cutoff_ms: i64) -> Result<Vec<String>, StoreError> {
        self.release_files(
            "SELECT file_path FROM runs WHERE status NOT IN ('queued', 'running') AND created_at < $1",
            "DELETE FROM runs WHERE status NOT IN ('queued', 'running') AND created_at < $1",
            cutoff_ms,
        )
        .await
    }

    /// Forgets the files of completed runs whose files expired before `now_ms`, and
    /// returns their paths for removal.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn expire_files(&self, now_ms: i64) -> Result<Vec<String>, StoreError> {
        self.release_files(
            "SELECT file_path FROM runs WHERE file_path IS NOT NULL AND expires_at < $1",
            "UPDATE runs SET file_path = NULL WHERE file_path IS NOT NULL AND expires_at < $1",
            now_ms,
        )
        .await
    }

    /// In one transaction, reads the file paths `select` finds and applies `release`
    /// (both take the same `$1`), so no path is forgotten before it is returned.
    async fn release_files(
        &self,
        select: &'static str,
        release: &'static str,
        bound: i64,
    ) -> Result<Vec<String>, StoreError> {
        let paths: Vec<Option<String>> = in_write_tx!(self, tx => {
            let paths = sqlx::query_scalar(select).bind(bound).fetch_all(&mut *tx).await?;
            sqlx::query(release).bind(bound).execute(&mut *tx).await?;
            paths
        });
        Ok(paths.into_iter().flatten().collect())
    }

    /// Every file path a run still owns, for the storage sweep.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn owned_files(&self) -> Result<Vec<String>, StoreError> {
        let paths: Vec<String> = on_pool!(&self.db, pool => {
            sqlx::query_scalar("SELECT file_path FROM runs WHERE file_path IS NOT NULL")
                .fetch_all(pool)
                .await
        })?;
        Ok(paths)
    }
}
