//! Enqueueing a run: deduplicated by identity and by idempotency key, written with its
//! first download token in one transaction.

use serde::Serialize;

use super::{Run, RunRow, decoded, is_unique_violation};
use crate::catalog::ResolvedParams;
use crate::db::Db;
use crate::names::{DownloadToken, IdempotencyKey, ReportName, TenantSlug};
use crate::store::statement::Value;
use crate::store::{Store, StoreError, on_reader, sql, values};
use crate::writer::{Format, OutputOptions};

/// A run to enqueue.
#[derive(Debug, Clone)]
pub struct NewRun {
    /// The tenant the run is for.
    pub tenant: TenantSlug,
    /// The report to build.
    pub report: ReportName,
    /// The file format to write.
    pub format: Format,
    /// The validated parameters.
    pub params: ResolvedParams,
    /// The output options asked for.
    pub options: OutputOptions,
    /// The API key asking; `None` from the command line.
    pub api_key_id: Option<String>,
    /// `(key, hash of the request body)` when the client sent an `Idempotency-Key`.
    pub idempotency: Option<(IdempotencyKey, String)>,
    /// A completed run of the same identity, found within the request's reuse window,
    /// to answer with instead of building the file again (see [`Store::reusable_run`]).
    pub reuse: Option<Run>,
}

impl NewRun {
    /// What deduplication compares: tenant, report, format, canonical parameters and
    /// output options.
    pub fn identity(&self) -> String {
        let options = serde_json::to_string(&self.options).expect("options serialize");
        crate::store::sha256_hex(&[
            self.tenant.as_str().as_bytes(),
            self.report.as_str().as_bytes(),
            self.format.extension().as_bytes(),
            self.params.canonical().as_bytes(),
            options.as_bytes(),
        ])
    }
}

/// What enqueueing a run produced.
#[derive(Debug, Clone)]
pub struct EnqueueOutcome {
    /// The run created, or the existing one returned in its place.
    pub run: Run,
    /// True when an identical queued-or-running run (or the idempotency key's earlier
    /// run, or a reused one) was returned instead of a new one.
    pub deduplicated: bool,
    /// True when the run returned is the completed one [`NewRun::reuse`] named.
    pub reused: bool,
    /// A fresh download token for the run.
    pub token: DownloadToken,
}

/// The values a new run is written with: the run's, its first download token's and its
/// idempotency key's. Owned, so that SQLite's group commit can take them to its task,
/// and serialized as one JSON object per run for it.
#[derive(Serialize)]
pub(in crate::store) struct RunBinds {
    pub(in crate::store) id: String,
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
    /// The values in the order `runs/insert.postgres.sql` binds them: the run's nine,
    /// then its token's and its idempotency key's.
    fn values(&self) -> [Value<'_>; 13] {
        values![
            &self.id,
            &self.tenant,
            &self.report,
            self.format,
            &self.params,
            &self.options,
            &self.identity,
            &self.api_key_id,
            self.now,
            &self.token_hash,
            self.token_expires,
            &self.key,
            &self.request_hash
        ]
    }

    /// The values of `new` as a run created `now` under a fresh id, with the download
    /// token hashed as `token_hash`.
    pub(in crate::store) fn new(
        new: &NewRun,
        identity: &str,
        now: i64,
        token_hash: String,
        token_ttl_ms: i64,
    ) -> RunBinds {
        let (key, request_hash) = new
            .idempotency
            .as_ref()
            .map(|(key, hash)| (key.to_string(), hash.clone()))
            .unzip();
        RunBinds {
            id: uuid::Uuid::now_v7().to_string(),
            tenant: new.tenant.to_string(),
            report: new.report.to_string(),
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

/// What the insert of a run did.
enum Inserted {
    /// The new run as stored (boxed: a run is large beside the other variant), and its
    /// first download token.
    Run(Box<Run>, DownloadToken),
    /// An identical run is queued or running: nothing was written.
    Conflict,
}

impl Inserted {
    /// The outcome of an insert that returned `row` when it wrote the run.
    fn from_row(row: Option<RunRow>, token: DownloadToken) -> Result<Inserted, StoreError> {
        Ok(match row {
            Some(row) => Inserted::Run(Box::new(Run::try_from(row)?), token),
            None => Inserted::Conflict,
        })
    }
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
                Some(run) => Some((run, false)),
                None => match self.reused_run(new).await? {
                    Some(run) => Some((run, true)),
                    None => match self.insert_run(new, &identity, token_ttl_ms).await {
                        Ok(Inserted::Run(run, token)) => {
                            return Ok(EnqueueOutcome {
                                run: *run,
                                deduplicated: false,
                                reused: false,
                                token,
                            });
                        }
                        Ok(Inserted::Conflict) => self
                            .active_run(new, &identity)
                            .await?
                            .map(|run| (run, false)),
                        Err(StoreError::Unavailable(error)) if is_unique_violation(&error) => None,
                        Err(error) => return Err(error),
                    },
                },
            };
            if let Some((run, reused)) = existing {
                let token = self.mint_token(&run.id, token_ttl_ms).await?;
                return Ok(EnqueueOutcome {
                    run,
                    deduplicated: true,
                    reused,
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
        let Some((stored_hash, run_id)) = self
            .idempotency_key(new.tenant.as_str(), key.as_str())
            .await?
        else {
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
        let row = on_reader!(self, pool => {
            sql!("runs/active_identical.sql").query_as(&values![identity]).fetch_optional(pool).await
        })?;
        match decoded(row)? {
            Some(run) => self.answered_with(new, run).await.map(Some),
            None => Ok(None),
        }
    }

    /// The completed run `new` is to reuse, if it names one, remembered under its
    /// idempotency key.
    async fn reused_run(&self, new: &NewRun) -> Result<Option<Run>, StoreError> {
        match &new.reuse {
            Some(run) => self.answered_with(new, run.clone()).await.map(Some),
            None => Ok(None),
        }
    }

    /// `run` as the answer to `new`: remembered under its idempotency key, if it has one.
    async fn answered_with(&self, new: &NewRun, run: Run) -> Result<Run, StoreError> {
        if let Some((key, request_hash)) = &new.idempotency {
            self.remember_idempotency_key(new.tenant.as_str(), key.as_str(), request_hash, &run.id)
                .await?;
        }
        Ok(run)
    }

    /// The newest run with `identity` that completed within the last `window_ms` and
    /// whose file has not expired: what a request with that reuse window may answer.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn reusable_run(
        &self,
        identity: &str,
        window_ms: i64,
    ) -> Result<Option<Run>, StoreError> {
        let now = self.now_ms();
        let row = on_reader!(self, pool => {
            sql!("runs/reusable.sql")
                .query_as(&values![identity, now.saturating_sub(window_ms), now])
                .fetch_optional(pool)
                .await
        })?;
        decoded(row)
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
        let (token, token_hash) = crate::store::tokens::new_token();
        let binds = RunBinds::new(new, identity, self.now_ms(), token_hash, token_ttl_ms);
        let row = match &self.db {
            Db::Postgres(pool) => {
                sql!("runs/insert.postgres.sql")
                    .query_as(&binds.values())
                    .fetch_optional(pool)
                    .await?
            }
            // SQLite has no writing CTE: the statements run one after the other, in a
            // transaction shared with the other enqueues waiting at that moment.
            Db::Sqlite(pool) => self.sqlite_inserts(pool).insert(binds).await?,
            // MySQL has neither a writing CTE nor ON CONFLICT on a partial index: one
            // transaction, in which an identical active run fails the first insert.
            Db::Mysql(pool) => {
                let mut tx = pool.begin().await?;
                // The run's own values are the first nine: the statement binds $1 to $9.
                let inserted = sql!("runs/insert.mysql.sql")
                    .query(&binds.values())
                    .execute(&mut *tx)
                    .await;
                match inserted {
                    Err(error) if is_unique_violation(&error) => return Ok(Inserted::Conflict),
                    inserted => inserted?,
                };
                sql!("tokens/insert.sql")
                    .query(&values![
                        &binds.token_hash,
                        &binds.id,
                        binds.now,
                        binds.token_expires
                    ])
                    .execute(&mut *tx)
                    .await?;
                if let (Some(key), Some(request_hash)) = (&binds.key, &binds.request_hash) {
                    sql!("idempotency/insert_new.sql")
                        .query(&values![
                            &binds.tenant,
                            key,
                            request_hash,
                            &binds.id,
                            binds.now
                        ])
                        .execute(&mut *tx)
                        .await?;
                }
                let row = sql!("runs/get.sql")
                    .query_as(&values![&binds.id])
                    .fetch_optional(&mut *tx)
                    .await?;
                tx.commit().await?;
                row
            }
        };
        Inserted::from_row(row, token)
    }
}
