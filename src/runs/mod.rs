//! Report runs, where the report engine meets the queue: enqueue (validate,
//! deduplicate, commit the row, push the job), cancel, retry, download links, the
//! report job handler, and the sweeps that keep the database and Redis in step.

mod handler;
mod observer;
mod sweep;
mod webhook_policy;
mod webhooks;

use std::time::Duration;

use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

pub use handler::{DEFAULT_OUTAGE_LIMIT, REPORT_JOB_KIND, ReportHandler};
pub use observer::RunsObserver;
pub use sweep::{SweepReport, Sweeper};
pub use webhook_policy::{WebhookClient, WebhookPolicy, WebhookUrlError};
pub use webhooks::{SIGNATURE_HEADER, WebhookSender, sign};

use crate::catalog::{FieldError, Overlap, Report};
use crate::names::{DownloadToken, IdempotencyKey, ReportName, TenantSlug};
use crate::queue::{Job, JobHistory, JobRecord, JobState, Queue, QueueError};
use crate::report::{ReportError, Reporter};
use crate::storage::{Storage, StorageError};
use crate::store::{EnqueueOutcome, Fence, NewRun, Run, RunError, RunStatus, Store, StoreError};
use crate::writer::{Format, OutputOptions};

/// The queue report jobs wait in.
pub const REPORT_QUEUE: &str = "reports";

/// How long a retry waits for a failed run's last attempt to be committed in Redis
/// (the handler records the failure in the database just before), and how often it
/// looks.
const ATTEMPT_FINISHING_WAIT: Duration = Duration::from_secs(3);
const ATTEMPT_FINISHING_POLL: Duration = Duration::from_millis(20);

/// Lifetimes of what runs leave behind.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// How long a finished file stays downloadable.
    pub files: Duration,
    /// How long a download token is valid.
    pub tokens: Duration,
    /// How long a finished run's row is kept.
    pub runs: Duration,
    /// How long an idempotency key is remembered (at least 24 h).
    pub idempotency_keys: Duration,
}

impl Default for Retention {
    fn default() -> Retention {
        Retention {
            files: Duration::from_secs(24 * 3600),
            tokens: Duration::from_secs(24 * 3600),
            runs: Duration::from_secs(30 * 24 * 3600),
            idempotency_keys: Duration::from_secs(24 * 3600),
        }
    }
}

/// Why a request about runs was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum RunsError {
    /// No report of this name is in the catalog.
    #[error("unknown report {0:?}")]
    UnknownReport(String),
    /// Fields of the request are refused, one error each.
    #[error("the request is invalid")]
    Invalid(Vec<FieldError>),
    /// The idempotency key was already used with a different request.
    #[error("the Idempotency-Key was already used with a different request")]
    IdempotencyConflict,
    /// The run does not exist, or belongs to another tenant.
    #[error("no such run")]
    NotFound,
    /// The run's status does not allow the action; says why.
    #[error("{0}")]
    Conflict(String),
    /// The tenant already has this many runs queued, the most it may.
    #[error("the tenant already has {0} runs queued, the most it may; wait for some to start")]
    TooManyQueued(u64),
    /// A retry came while the failed run's job is still reserved; it can be sent again
    /// shortly.
    #[error("the run's last attempt is still finishing; retry in a moment")]
    AttemptFinishing,
    /// quire's own database failed.
    #[error("the database is unavailable")]
    Database(#[source] StoreError),
    /// Redis failed.
    #[error("the queue is unavailable")]
    Queue(#[source] QueueError),
    /// The report database failed while checking the tenant or parameters.
    #[error("the report database is unavailable")]
    ReportSource(#[source] ReportError),
    /// The file storage failed.
    #[error("the file storage is unavailable")]
    Storage(#[from] StorageError),
}

impl From<StoreError> for RunsError {
    fn from(error: StoreError) -> RunsError {
        match error {
            StoreError::IdempotencyConflict => RunsError::IdempotencyConflict,
            other => RunsError::Database(other),
        }
    }
}

impl From<QueueError> for RunsError {
    fn from(error: QueueError) -> RunsError {
        RunsError::Queue(error)
    }
}

/// A request for a report run, from the API or the CLI, its names already parsed.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The tenant the run is for.
    pub tenant: TenantSlug,
    /// The report to build.
    pub report: ReportName,
    /// The file format to write.
    pub format: Format,
    /// The parameters as sent, not yet validated.
    pub params: Map<String, Value>,
    /// The output options asked for.
    pub options: OutputOptions,
    /// Replaying the same key with the same request returns the same run.
    pub idempotency_key: Option<IdempotencyKey>,
    /// The API key that asked (its webhook is told when the run ends).
    pub api_key_id: Option<String>,
    /// Answer with a run of the same identity that completed this recently, if its file
    /// is still there, instead of building it again; `None`: the report's own window.
    pub reuse_for: Option<Duration>,
}

impl RunRequest {
    /// Parses the tenant, report, format and reuse window of a request as it arrived,
    /// naming every field refused; a report name no catalog could hold is an unknown
    /// report.
    ///
    /// # Errors
    /// [`RunsError::UnknownReport`] or [`RunsError::Invalid`].
    pub fn parse(
        tenant: &str,
        report: &str,
        format: &str,
        params: Map<String, Value>,
        options: OutputOptions,
        reuse_for: Option<&str>,
    ) -> Result<RunRequest, RunsError> {
        let report =
            ReportName::parse(report).map_err(|_| RunsError::UnknownReport(report.to_owned()))?;
        // Each message follows its field's name, so it does not say the name again.
        let tenant = TenantSlug::parse(tenant).map_err(|e| FieldError::new("tenant", e.problem()));
        let format = format.parse().map_err(|_| {
            FieldError::new(
                "format",
                format!("{} is not csv or xlsx", crate::names::echo(format)),
            )
        });
        let reuse_for = reuse_for
            .map(|text| {
                humantime::parse_duration(text).map_err(|_| {
                    FieldError::new(
                        "reuse_for",
                        format!(
                            "{} is not a duration like 90s, 10m or 1h",
                            crate::names::echo(text)
                        ),
                    )
                })
            })
            .transpose();
        match (tenant, format, reuse_for) {
            (Ok(tenant), Ok(format), Ok(reuse_for)) => Ok(RunRequest {
                tenant,
                report,
                format,
                params,
                options,
                idempotency_key: None,
                api_key_id: None,
                reuse_for,
            }),
            (tenant, format, reuse_for) => Err(RunsError::Invalid(
                [format.err(), tenant.err(), reuse_for.err()]
                    .into_iter()
                    .flatten()
                    .collect(),
            )),
        }
    }

    /// What an idempotency key is bound to: the request as the client sent it.
    fn fingerprint(&self) -> String {
        let params = serde_json::to_string(&self.params).expect("JSON map serializes");
        let options = serde_json::to_string(&self.options).expect("options serialize");
        let reuse_for = self.reuse_for.map(|window| window.as_millis().to_string());
        let mut parts = vec![
            self.tenant.as_str().as_bytes(),
            self.report.as_str().as_bytes(),
            self.format.extension().as_bytes(),
            params.as_bytes(),
            options.as_bytes(),
        ];
        // Only when given, so that keys stored before reuse windows existed still match.
        parts.extend(reuse_for.as_deref().map(str::as_bytes));
        crate::store::sha256_hex(&parts)
    }
}

/// An accepted request: the run, whether it already existed, and a fresh download
/// token for it.
#[derive(Debug, Clone)]
pub struct Enqueued {
    /// The run created, or the existing one returned in its place.
    pub run: Run,
    /// Whether an existing run was returned instead of a new one.
    pub deduplicated: bool,
    /// Whether that run is a completed one reused within the request's reuse window.
    pub reused: bool,
    /// A new download token for the run, valid for the token retention.
    pub token: DownloadToken,
}

/// The run service shared by the API, the CLI and the worker.
#[derive(Debug, Clone)]
pub struct Runs {
    /// quire's own database: runs, tokens, keys and webhook deliveries.
    pub store: Store,
    /// Validates requests and builds the files.
    pub reporter: Reporter,
    /// The Redis queue run jobs travel through.
    pub queue: Queue,
    /// Where finished files are stored.
    pub storage: Storage,
    /// How long files, tokens, runs and idempotency keys are kept.
    pub retention: Retention,
    /// The most runs one tenant may have queued; a request beyond is refused.
    pub max_queued_per_tenant: u64,
    /// How runs of different tenants share the workers.
    pub scheduling: Scheduling,
}

/// How runs of different tenants share the workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scheduling {
    /// Tenants take turns (each tenant is a fairness key of the queue); `false`: first
    /// in, first out across tenants.
    pub fair: bool,
    /// The most runs of one tenant that build at once; a report may set a lower one.
    /// Only enforced with `fair`, since the limit belongs to the tenant's fairness key.
    pub max_running_per_tenant: Option<u32>,
}

impl Default for Scheduling {
    fn default() -> Scheduling {
        Scheduling {
            fair: true,
            max_running_per_tenant: None,
        }
    }
}

/// [`Runs::max_queued_per_tenant`] unless set: far above a month end's exports, low
/// enough that a client stuck in a loop cannot bury every other tenant.
pub const DEFAULT_MAX_QUEUED_PER_TENANT: u64 = 10_000;

/// The `unique_key` of a run's job: its deduplication identity.
fn unique_key(run: &Run) -> String {
    format!("run:{}", run.identity)
}

/// The `overlap_key` of a run's job, from its report's `overlap` scope.
fn overlap_key(report: &Report, run: &Run) -> Option<String> {
    match report.overlap {
        Overlap::Tenant => Some(format!("tenant:{}", run.tenant)),
        Overlap::TenantReport => Some(format!("tenant:{}:report:{}", run.tenant, run.report)),
        Overlap::None => None,
    }
}

impl Runs {
    /// The job that builds `run`, carrying the locks and limits of its report, and
    /// the attempts and fencing token its row recorded (what a job pushed again after
    /// Redis lost the old one continues from).
    pub fn job_for(&self, run: &Run) -> Result<Job, RunsError> {
        let report = self
            .reporter
            .report(&run.report)
            .map_err(|_| RunsError::UnknownReport(run.report.clone()))?;
        let mut job = Job::new(
            run.id.clone(),
            REPORT_JOB_KIND,
            serde_json::json!({ "run_id": run.id }),
        )
        .with_queue(REPORT_QUEUE)
        .with_unique_key(unique_key(run))
        .with_max_attempts(report.max_attempts)
        .with_timeout(report.timeout)
        .with_overlap_wait(report.overlap_wait)
        .with_history(JobHistory {
            attempts: u32::try_from(run.attempts).unwrap_or(0),
            last_token: run
                .fence
                .as_deref()
                .and_then(|fence| fence.parse().ok())
                .unwrap_or(0),
        });
        if let Some(key) = overlap_key(&report, run) {
            job = job.with_overlap_key(key);
        }
        if self.scheduling.fair {
            job = job.with_fairness_key(run.tenant.as_str());
            let limits = [
                self.scheduling.max_running_per_tenant,
                report.max_running_per_tenant,
            ];
            if let Some(limit) = limits.into_iter().flatten().min() {
                job = job.with_fairness_limit(limit);
            }
        }
        Ok(job)
    }

    /// Validates `request`, then commits the run and pushes its job: all or nothing.
    /// An identical queued or running run, or a replayed idempotency key, returns the
    /// existing run instead.
    ///
    /// # Errors
    /// Invalid requests, an idempotency conflict, or an unavailable database or Redis
    /// (in which case nothing was kept).
    pub async fn enqueue(&self, request: &RunRequest) -> Result<Enqueued, RunsError> {
        // In a task of its own: a caller that stops waiting (an HTTP client gone away)
        // cannot stop the enqueue between committing the run and pushing its job, which
        // would leave a run without a job until the sweep finds it.
        let runs = self.clone();
        let request = request.clone();
        tokio::spawn(async move { runs.enqueue_to_the_end(&request).await })
            .await
            .expect("an enqueue does not panic")
    }

    async fn enqueue_to_the_end(&self, request: &RunRequest) -> Result<Enqueued, RunsError> {
        let mut invalid = Vec::new();
        // An unknown report is refused before the report database is asked anything.
        let reuse_for = self
            .reporter
            .report(request.report.as_str())
            .map_err(|_| RunsError::UnknownReport(request.report.to_string()))?
            .reuse_for;
        // Looked up once: the tenant's dates resolve the parameters, and an unknown
        // tenant is refused with them.
        let tenant_id = self
            .reporter
            .known_tenant_id(request.report.as_str(), request.tenant.as_str())
            .await
            .map_err(RunsError::ReportSource)?;
        let params = match self
            .reporter
            .resolve_params_for(request.report.as_str(), tenant_id, &request.params)
            .await
        {
            Ok(params) => Some(params),
            Err(ReportError::UnknownReport(name)) => return Err(RunsError::UnknownReport(name)),
            Err(ReportError::InvalidParams(errors)) => {
                invalid.extend(errors.into_iter().map(|mut error| {
                    error.field = format!("params.{}", error.field);
                    error
                }));
                None
            }
            Err(ReportError::UnknownTimeZone(zone)) => {
                invalid.push(FieldError::new(
                    "tenant",
                    format!("has the time zone {zone:?}, which is not an IANA time zone name"),
                ));
                None
            }
            Err(other) => return Err(RunsError::ReportSource(other)),
        };
        if tenant_id.is_none() {
            invalid.push(FieldError::new(
                "tenant",
                format!("{:?} is unknown", request.tenant.as_str()),
            ));
        }
        let (Some(params), true) = (params, invalid.is_empty()) else {
            return Err(RunsError::Invalid(invalid));
        };

        let mut new = NewRun {
            tenant: request.tenant.clone(),
            report: request.report.clone(),
            format: request.format,
            params,
            options: request.options,
            api_key_id: request.api_key_id.clone(),
            idempotency: request
                .idempotency_key
                .as_ref()
                .map(|key| (key.clone(), request.fingerprint())),
            reuse: None,
        };
        let window = request.reuse_for.unwrap_or(reuse_for);
        if !window.is_zero() {
            new.reuse = self.reusable_run(&new.identity(), window).await?;
        }
        let EnqueueOutcome {
            run,
            deduplicated,
            reused,
            token,
        } = self.store.enqueue_run(&new, self.token_ttl_ms()).await?;
        if !deduplicated {
            // Counted after the insert, so a request answered by an existing run is never
            // refused; two requests at the cap at once may both be.
            let queued = self.store.queued_runs(run.tenant.as_str()).await?;
            if u64::try_from(queued).unwrap_or(0) > self.max_queued_per_tenant {
                self.store.delete_run(&run.id).await?;
                return Err(RunsError::TooManyQueued(self.max_queued_per_tenant));
            }
            let pushed = match self.job_for(&run) {
                Ok(job) => self.queue.push(&job).await.map_err(RunsError::from),
                Err(error) => Err(error),
            };
            if let Err(error) = pushed {
                self.store.delete_run(&run.id).await?;
                return Err(error);
            }
        }
        if deduplicated && run.status == RunStatus::Queued {
            // The run answered may be another request's whose push is still under way,
            // or has failed (that request then removes the run): answer with it only once
            // its job is in Redis. A push is idempotent by id, so this is a no-op for a
            // job already there, and a Redis that is down answers 503 here too.
            self.queue.push(&self.job_for(&run)?).await?;
        }
        metrics::counter!("quire_runs_enqueued_total", "deduplicated" => deduplicated.to_string())
            .increment(1);
        Ok(Enqueued {
            run,
            deduplicated,
            reused,
            token,
        })
    }

    /// The newest run with `identity` that completed within `window` and whose file is
    /// still there: expired files are forgotten by the database, and a file deleted
    /// behind quire's back is looked for in the storage.
    async fn reusable_run(
        &self,
        identity: &str,
        window: Duration,
    ) -> Result<Option<Run>, RunsError> {
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        let Some(run) = self.store.reusable_run(identity, window_ms).await? else {
            return Ok(None);
        };
        let Some(file) = &run.file else {
            return Ok(None);
        };
        // A storage that cannot tell is no reason to refuse the request: the run is
        // built again.
        let stored = self
            .storage
            .exists(&file.path)
            .await
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "cannot tell whether a reusable run's file is still stored");
                false
            });
        Ok(stored.then_some(run))
    }

    /// A fresh download token for `run_id`.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn mint_token(&self, run_id: &str) -> Result<DownloadToken, RunsError> {
        Ok(self.store.mint_token(run_id, self.token_ttl_ms()).await?)
    }

    fn token_ttl_ms(&self) -> i64 {
        i64::try_from(self.retention.tokens.as_millis()).unwrap_or(i64::MAX)
    }

    /// The run `id` as seen by `tenant` (`None`: any tenant). Another tenant's run is
    /// not found, like an unknown one.
    ///
    /// # Errors
    /// [`RunsError::NotFound`], or an unavailable database.
    pub async fn get(&self, id: &str, tenant: Option<&str>) -> Result<Run, RunsError> {
        match self.store.run(id).await? {
            Some(run) if tenant.is_none_or(|t| t == run.tenant) => Ok(run),
            _ => Err(RunsError::NotFound),
        }
    }

    /// Cancels a queued or running run; a running attempt notices at its next
    /// progress check and stops.
    ///
    /// # Errors
    /// Not found, or a conflict when the run already finished.
    pub async fn cancel(&self, id: &str, tenant: Option<&str>) -> Result<Run, RunsError> {
        let run = self.get(id, tenant).await?;
        let error = RunError {
            code: "cancelled".into(),
            message: "the run was cancelled".into(),
        };
        if !self
            .store
            .finish_run(&run.id, Fence::Unfinished, RunStatus::Cancelled, &error)
            .await?
        {
            return Err(RunsError::Conflict(format!(
                "the run is already {}",
                run.status.as_str()
            )));
        }
        self.get(id, tenant).await
    }

    /// Puts a failed run back in the queue under the same id, attempts reset. A run
    /// already queued again is returned as it is.
    ///
    /// # Errors
    /// Not found; a conflict for a run that is neither failed nor queued.
    pub async fn retry(&self, id: &str, tenant: Option<&str>) -> Result<Run, RunsError> {
        let run = self.get(id, tenant).await?;
        match run.status {
            // Already retried; its job is made sure of all the same, in case the retry
            // that reopened the run stopped before it.
            RunStatus::Queued => {
                self.revive(&run).await?;
                return Ok(run);
            }
            RunStatus::Failed => {}
            other => {
                return Err(RunsError::Conflict(format!(
                    "only a failed run can be retried; this one is {}",
                    other.as_str()
                )));
            }
        }
        self.wait_for_last_attempt(id).await?;
        let Some((run, requeued)) = self.store.requeue_failed(id).await? else {
            return Err(RunsError::NotFound);
        };
        if !requeued {
            return match run.status {
                RunStatus::Queued => Ok(run),
                _ => Err(RunsError::Conflict(
                    "an identical run is already queued or running".into(),
                )),
            };
        }
        self.revive(&run).await?;
        Ok(run)
    }

    /// Sets a failed run aside for good and drops its dead job: it leaves the failed
    /// list and the dead set. Forgetting a run forgotten already changes nothing more.
    ///
    /// # Errors
    /// Not found; a conflict for a run that is neither failed nor forgotten.
    pub async fn forget(&self, id: &str, tenant: Option<&str>) -> Result<(), RunsError> {
        let run = self.get(id, tenant).await?;
        let forgotten = run.error.as_ref().is_some_and(|e| e.code == "forgotten");
        if run.status != RunStatus::Failed && !forgotten {
            return Err(RunsError::Conflict(format!(
                "only a failed run can be forgotten; this one is {}",
                run.status.as_str()
            )));
        }
        self.store.forget_failed(id).await?;
        // As for a retry: a job still being committed dead would land in the dead set
        // after it was dropped from it.
        self.wait_for_last_attempt(id).await?;
        self.queue.forget(std::slice::from_ref(&run.id)).await?;
        Ok(())
    }

    /// Waits, bounded, while the run's job is still reserved: a failed attempt writes
    /// its failure to the database before the worker commits it in Redis, and a retry
    /// in between would be undone by that commit.
    async fn wait_for_last_attempt(&self, id: &str) -> Result<(), RunsError> {
        let deadline = tokio::time::Instant::now() + ATTEMPT_FINISHING_WAIT;
        loop {
            let state = self.queue.job(id).await?.and_then(|record| record.state);
            if state != Some(JobState::Reserved) {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(RunsError::AttemptFinishing);
            }
            tokio::time::sleep(ATTEMPT_FINISHING_POLL).await;
        }
    }

    /// Puts the ended job (dead or done) of a reopened run back in its queue, or
    /// pushes it afresh when Redis no longer has it (its record expired, or Redis lost
    /// its data); a job still queued or running is left as it is.
    async fn revive(&self, run: &Run) -> Result<(), RunsError> {
        let revived = self
            .queue
            .requeue_ended(std::slice::from_ref(&run.id))
            .await?;
        if !revived.first().copied().unwrap_or(false) {
            self.queue.push(&self.job_for(run)?).await?;
        }
        Ok(())
    }

    /// Fails the run of a job that `record` shows dead, unless the run started a
    /// different number of attempts since: a retry (which resets the count) or a newer
    /// attempt then owns it. Returns whether the run was failed.
    async fn fail_dead_job(&self, record: &JobRecord) -> Result<bool, RunsError> {
        debug_assert_eq!(record.state, Some(JobState::Dead));
        let error = sweep::dead_run_error(record);
        let attempts = Fence::Attempts(i64::from(record.attempts));
        Ok(self
            .store
            .finish_run(&record.id, attempts, RunStatus::Failed, &error)
            .await?)
    }
}

/// Runs `tick` every `interval` (the first at once) until `shutdown`; a tick in
/// progress finishes first.
async fn every<F, Fut>(interval: Duration, shutdown: &CancellationToken, mut tick: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut ticks = tokio::time::interval(interval);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        tick().await;
    }
}
