//! The report job handler: one report run is one job. Every write to the run is fenced
//! by the attempt's token, so a worker that lost its lease can never overwrite a newer
//! attempt's outcome or make its file the run's.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;
use tracing::Instrument as _;

use super::Runs;
use crate::report::{Rendered, ReportError, ReportRequest};
use crate::store::{Fence, Run, RunError, RunFile, RunStatus, StartOutcome, StoreError};
use crate::worker::{JobContext, JobError, JobHandler, Outcome};

/// The job kind of a report run.
pub const REPORT_JOB_KIND: &str = "report";

/// How often a running attempt records its progress and checks it still holds the run
/// (a cancelled run stops at the next check).
const PROGRESS_INTERVAL: Duration = Duration::from_secs(1);

/// How soon a job whose token the run had already seen comes back for a newer one.
const SUPERSEDED_RETRY: Duration = Duration::from_secs(1);

/// How long a database may stay unreachable before attempts that meet it count again.
pub const DEFAULT_OUTAGE_LIMIT: Duration = Duration::from_secs(10 * 60);

/// The shortest and longest wait of a job handed back during an outage.
const OUTAGE_RETRY_MIN: Duration = Duration::from_secs(1);
const OUTAGE_RETRY_MAX: Duration = Duration::from_secs(30);

/// Builds report runs for the worker.
#[derive(Debug, Clone)]
pub struct ReportHandler {
    runs: Runs,
    outage: Arc<Outage>,
}

impl ReportHandler {
    /// A handler building runs of `runs`, waiting out database outages of up to
    /// [`DEFAULT_OUTAGE_LIMIT`].
    pub fn new(runs: Runs) -> ReportHandler {
        ReportHandler::with_outage_limit(runs, DEFAULT_OUTAGE_LIMIT)
    }

    /// A handler whose attempts wait out database outages of up to `limit` without
    /// spending an attempt; past it, they fail with the real error.
    pub fn with_outage_limit(runs: Runs, limit: Duration) -> ReportHandler {
        ReportHandler {
            runs,
            outage: Arc::new(Outage {
                since: Mutex::new(None),
                limit,
            }),
        }
    }
}

/// A database outage seen by this process's attempts: since when no attempt has
/// reached an end, and how long that may last.
#[derive(Debug)]
struct Outage {
    since: Mutex<Option<Instant>>,
    limit: Duration,
}

impl Outage {
    /// An attempt reached an end: whatever outage there was is over.
    fn end(&self) {
        if self
            .since
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .is_some()
        {
            tracing::info!("the databases are reachable again");
        }
    }

    /// An attempt could not reach a database: the job is handed back without spending
    /// an attempt, later the longer the outage lasts, until the outage is older than
    /// the limit; then `error` counts as any transient failure.
    fn hand_back_or(&self, error: JobError) -> Result<Outcome, JobError> {
        let mut since = self.since.lock().unwrap_or_else(|e| e.into_inner());
        let began = since.is_none();
        let elapsed = since.get_or_insert_with(Instant::now).elapsed();
        if elapsed >= self.limit {
            return Err(error);
        }
        let delay = (elapsed / 2).clamp(OUTAGE_RETRY_MIN, OUTAGE_RETRY_MAX);
        if began {
            // One line per outage; each hand-back during it is a debug line.
            tracing::warn!(%error, limit = ?self.limit, "a database is unreachable; jobs wait for it without spending attempts");
        } else {
            tracing::debug!(%error, outage = ?elapsed, retry_in = ?delay, "a database is still unreachable");
        }
        Ok(Outcome::Defer(delay))
    }
}

/// Why an attempt did not end.
enum AttemptError {
    /// A database could not be reached: not the job's fault.
    Unreachable(JobError),
    /// Anything else, counted as the worker counts it.
    Job(JobError),
}

impl From<JobError> for AttemptError {
    fn from(error: JobError) -> AttemptError {
        AttemptError::Job(error)
    }
}

impl From<StoreError> for AttemptError {
    fn from(error: StoreError) -> AttemptError {
        if error.is_unreachable() {
            AttemptError::Unreachable(JobError::transient(error))
        } else {
            // The job's error is shown in the run's history: the cause goes to the log.
            tracing::warn!(%error, "quire's database failed during a report attempt");
            AttemptError::Job(JobError::transient("quire's database failed"))
        }
    }
}

impl From<ReportError> for AttemptError {
    fn from(error: ReportError) -> AttemptError {
        if error.is_unreachable() {
            AttemptError::Unreachable(JobError::transient(error))
        } else if error.is_transient() {
            AttemptError::Job(JobError::transient(error))
        } else {
            AttemptError::Job(JobError::permanent(error))
        }
    }
}

/// The code and client-facing message of a failed report; the full cause goes to the
/// logs only.
fn run_error(error: &ReportError) -> RunError {
    let (code, message) = match error {
        ReportError::UnknownReport(_) => {
            ("unknown_report", "the report no longer exists".to_owned())
        }
        ReportError::UnknownTenant(_) => {
            ("tenant_deleted", "the tenant no longer exists".to_owned())
        }
        ReportError::InvalidParams(_) => ("invalid_params", error.to_string()),
        ReportError::UnknownTimeZone(_) => ("invalid_timezone", error.to_string()),
        ReportError::TimedOut(limit) => (
            "timeout",
            format!("the report did not finish within {limit:?}"),
        ),
        ReportError::Cancelled => ("cancelled", "the run was cancelled".to_owned()),
        ReportError::Source(_) => ("report_failed", "the report query failed".to_owned()),
        ReportError::Write(write) if write.is_storage_full() => (
            "write_failed",
            "writing the report file failed: no space left on device".to_owned(),
        ),
        ReportError::Write(_) | ReportError::WriterPanicked(_) => {
            ("write_failed", "writing the report file failed".to_owned())
        }
        // The setting to correct is the operator's business, not the client's.
        ReportError::Storage(_) => (
            "storage_failed",
            "storing the report file failed".to_owned(),
        ),
    };
    RunError {
        code: code.to_owned(),
        message,
    }
}

/// The payload of a report job.
#[derive(Debug, serde::Deserialize)]
struct ReportPayload {
    run_id: String,
}

impl JobHandler for ReportHandler {
    async fn run(&self, context: JobContext) -> Result<Outcome, JobError> {
        let ReportPayload { run_id } = context.payload()?;
        // Inside the worker's job span (job id, attempt): the report's own fields.
        let span = tracing::info_span!(
            "run",
            run_id = %run_id,
            tenant = tracing::field::Empty,
            report = tracing::field::Empty
        );
        match self.run_attempt(context, run_id).instrument(span).await {
            Ok(outcome) => {
                self.outage.end();
                Ok(outcome)
            }
            Err(AttemptError::Unreachable(error)) => self.outage.hand_back_or(error),
            Err(AttemptError::Job(error)) => Err(error),
        }
    }
}

impl ReportHandler {
    async fn run_attempt(
        &self,
        context: JobContext,
        run_id: String,
    ) -> Result<Outcome, AttemptError> {
        let store = &self.runs.store;
        let token = context.claim().token.clone();
        let started = store
            .start_attempt(&run_id, &token, i64::from(context.attempt()))
            .await?;
        let run = match started {
            StartOutcome::Missing => {
                tracing::warn!(run_id, "the run's row is gone; dropping its job");
                return Ok(Outcome::Completed);
            }
            StartOutcome::Finished(run) => {
                tracing::info!(
                    run_id,
                    status = run.status.as_str(),
                    "the run already ended; nothing to build"
                );
                return Ok(Outcome::Completed);
            }
            StartOutcome::Superseded(_) => {
                // A stale attempt's hand-back is refused by the queue (its lease is
                // gone). A current one meets a token Redis issued again after losing
                // writes (a failover): it comes back with a newer token.
                tracing::warn!(
                    run_id,
                    "the run holds a newer fencing token; handing the job back"
                );
                return Ok(Outcome::Defer(SUPERSEDED_RETRY));
            }
            StartOutcome::Started(run) => run,
        };
        tracing::Span::current().record("tenant", run.tenant.as_str());
        tracing::Span::current().record("report", run.report.as_str());
        if run.attempts == 1
            && let Some(started_at) = run.started_at
        {
            let waited =
                Duration::from_millis(u64::try_from(started_at - run.created_at).unwrap_or(0));
            metrics::histogram!("quire_run_wait_seconds", "report" => run.report.clone())
                .record(waited.as_secs_f64());
        }

        let tenant_exists = self
            .runs
            .reporter
            .tenant_id(&run.report, &run.tenant)
            .await?
            .is_some();
        if !tenant_exists {
            let error = RunError {
                code: "tenant_deleted".into(),
                message: "the tenant no longer exists".into(),
            };
            store
                .finish_run(&run.id, Fence::Token(&token), RunStatus::Discarded, &error)
                .await?;
            tracing::info!(run_id, "the tenant was deleted; run discarded");
            return Ok(Outcome::Completed);
        }

        let building = Instant::now();
        match self.build(&run, &token, context.cancellation()).await {
            Ok(rendered) => {
                self.complete(&run, &token, rendered, building.elapsed())
                    .await
            }
            // Our own stop: the run was cancelled or a newer attempt took it over.
            Err(ReportError::Cancelled) if !context.cancellation().is_cancelled() => {
                tracing::info!(
                    run_id,
                    "the run was cancelled or taken over; attempt stopped"
                );
                Ok(Outcome::Completed)
            }
            // The worker's stop (timeout, lost lease, shutdown): the worker decides what
            // the attempt counts as; a final failure reaches the run through the observer.
            Err(ReportError::Cancelled) => Err(JobError::transient(
                "the attempt was stopped: timeout, lost lease or shutdown",
            )
            .into()),
            // The run stays running; the attempt that comes back after the outage takes
            // it over with a newer token.
            Err(error) if error.is_unreachable() => {
                tracing::warn!(run_id, error = %error, cause = ?std::error::Error::source(&error), "report attempt lost its database");
                Err(error.into())
            }
            Err(error) => {
                let last_attempt = context.attempt() >= context.job().max_attempts;
                let record = run_error(&error);
                tracing::warn!(run_id, error = %error, cause = ?std::error::Error::source(&error), "report attempt failed");
                if !error.is_transient() || last_attempt {
                    store
                        .finish_run(&run.id, Fence::Token(&token), RunStatus::Failed, &record)
                        .await?;
                }
                if error.is_transient() {
                    Err(JobError::transient(record.message).into())
                } else {
                    Err(JobError::permanent(record.message).into())
                }
            }
        }
    }

    /// Streams the run into this attempt's own file, recording progress on the way.
    async fn build(
        &self,
        run: &Run,
        token: &str,
        cancel: &CancellationToken,
    ) -> Result<Rendered, ReportError> {
        let store = &self.runs.store;
        let destination = self.runs.storage.destination(
            &run.id,
            token,
            run.format.extension(),
            run.format.content_type(),
        );
        let request = ReportRequest {
            report: run.report.clone(),
            tenant: run.tenant.clone(),
            format: run.format,
            params: run.params.clone(),
            options: run.options,
        };
        let rows = Arc::new(AtomicU64::new(0));
        let attempt_cancel = cancel.child_token();
        let progress = {
            let (store, rows, cancel) = (store.clone(), rows.clone(), attempt_cancel.clone());
            let (run_id, token) = (run.id.clone(), token.to_owned());
            AbortOnDropHandle::new(tokio::spawn(async move {
                let mut ticks = tokio::time::interval(PROGRESS_INTERVAL);
                ticks.tick().await;
                loop {
                    tokio::select! {
                        () = cancel.cancelled() => break,
                        _ = ticks.tick() => {}
                    }
                    let written = i64::try_from(rows.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
                    // Cancelled, or taken over by a newer attempt: stop building.
                    if let Ok(false) = store.record_progress(&run_id, &token, written).await {
                        cancel.cancel();
                        break;
                    }
                }
            }))
        };
        let rendered = self
            .runs
            .reporter
            .render_to(&request, &destination, &attempt_cancel, rows)
            .await;
        attempt_cancel.cancel();
        let _ = progress.await;
        rendered
    }

    /// Records the build's figures (it took `took`) and makes the attempt's file the
    /// run's, fenced by `token`; a stale attempt removes its file instead.
    async fn complete(
        &self,
        run: &Run,
        token: &str,
        rendered: Rendered,
        took: Duration,
    ) -> Result<Outcome, AttemptError> {
        let labels = [
            ("report", run.report.clone()),
            ("format", run.format.to_string()),
        ];
        metrics::histogram!("quire_report_seconds", &labels).record(took.as_secs_f64());
        metrics::counter!("quire_report_rows_total", &labels).increment(rendered.rows);
        metrics::histogram!("quire_report_rows", &labels).record(rendered.rows as f64);
        let store = &self.runs.store;
        let location = rendered.file.location.to_string();
        let file = RunFile {
            path: location.clone(),
            bytes: i64::try_from(rendered.file.bytes).unwrap_or(i64::MAX),
            sha256: rendered.file.sha256.clone(),
            rows: i64::try_from(rendered.rows).unwrap_or(i64::MAX),
        };
        let expires_at = store.clock().now().timestamp_millis()
            + i64::try_from(self.runs.retention.files.as_millis()).unwrap_or(i64::MAX);
        let won = match store.complete_run(&run.id, token, &file, expires_at).await {
            Ok(won) => won,
            Err(error) => {
                self.remove(&location).await;
                return Err(error.into());
            }
        };
        if won {
            tracing::info!(
                run_id = run.id,
                tenant = run.tenant,
                report = run.report,
                format = %run.format,
                rows = rendered.rows,
                bytes = rendered.file.bytes,
                duration_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
                attempt = run.attempts,
                "run completed"
            );
        } else {
            // A newer attempt holds the run, or it was cancelled: this file is nobody's.
            self.remove(&location).await;
            tracing::warn!(
                run_id = run.id,
                "this attempt no longer holds the run; its file was removed"
            );
        }
        Ok(Outcome::Completed)
    }

    /// Removes this attempt's file, which no run owns; one left behind (the object
    /// store failing) is the sweep's to remove.
    async fn remove(&self, location: &str) {
        if let Err(error) = self.runs.storage.remove(location).await {
            tracing::warn!(%error, location, "could not remove a file no run owns; the sweep will");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::writer::WriteError;

    #[test]
    fn a_full_disk_is_named_in_the_runs_error_and_other_write_errors_are_not_detailed() {
        let full = run_error(&ReportError::Write(WriteError::Io(
            std::io::Error::from_raw_os_error(28),
        )));
        assert_eq!(full.code, "write_failed");
        assert_eq!(
            full.message,
            "writing the report file failed: no space left on device"
        );
        let panicked = run_error(&ReportError::Write(WriteError::storage_full()));
        assert_eq!(panicked.message, full.message);
        let other = run_error(&ReportError::Write(WriteError::Io(std::io::Error::other(
            "disk on fire at /srv/quire/files",
        ))));
        assert_eq!(other.message, "writing the report file failed", "no paths");
    }
}
