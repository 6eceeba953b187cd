//! The sweep that keeps the database, Redis and the storage folder in step: re-pushes
//! runs left queued or running with no job in Redis (a crash between commit and push,
//! or Redis losing its data) or with a job that is done, fails runs whose job died,
//! applies retention, and removes files no run owns. That last look reads every run's
//! file and lists the whole folder or bucket prefix, so the deployment takes it in turns:
//! one look per [`Sweeper::orphan_every`], whichever worker's tick comes first.

use std::collections::HashSet;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{Runs, RunsError};
use crate::queue::{DeathCause, JobRecord, JobState, RateLimit};
use crate::store::{Fence, Run, RunError, RunStatus};

/// Runs examined per sweep.
const ACTIVE_BATCH: i64 = 1000;

/// The token bucket, under the prefix, that hands out turns of the orphan sweep.
const ORPHAN_TURNS: &str = "sweep:orphans";

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Runs whose job was pushed again.
    pub requeued: usize,
    /// Runs failed because their job died.
    pub failed: usize,
    /// Files removed: expired, pruned, or owned by no run.
    pub files_removed: usize,
}

/// Periodic reconciliation of one deployment.
#[derive(Debug, Clone)]
pub struct Sweeper {
    runs: Runs,
    /// A file no run owns is removed only once it is this old, so an attempt between
    /// publishing its file and recording it is never robbed.
    pub orphan_grace: Duration,
    /// How often the whole deployment looks for files no run owns.
    pub orphan_every: Duration,
}

/// The error a run gets from its dead job: the code from what killed it, the message
/// from the job's reason.
pub(super) fn dead_run_error(record: &JobRecord) -> RunError {
    let code = match record.cause {
        Some(DeathCause::OverlapTimeout) => "overlap_timeout",
        Some(DeathCause::WorkerLost) => "worker_lost",
        Some(DeathCause::TimedOut) => "timeout",
        Some(
            DeathCause::Failed
            | DeathCause::HandedBack
            | DeathCause::Undecodable
            | DeathCause::Missing,
        )
        | None => "job_failed",
    };
    RunError {
        code: code.to_owned(),
        message: record
            .error
            .clone()
            .unwrap_or_else(|| "the job died".to_owned()),
    }
}

impl Sweeper {
    /// A sweeper with a 15-minute grace for unowned files, looked for every 5 minutes
    /// (so one lives at most 20).
    pub fn new(runs: Runs) -> Sweeper {
        Sweeper {
            runs,
            orphan_grace: Duration::from_secs(15 * 60),
            orphan_every: Duration::from_secs(5 * 60),
        }
    }

    /// Sweeps every `interval` until `shutdown`, looking for unowned files only on
    /// this deployment's turns; failures are logged and retried on the next tick.
    pub async fn run(self, interval: Duration, shutdown: CancellationToken) {
        super::every(interval, &shutdown, || async {
            let orphans = self.take_orphan_turn().await;
            match self.sweep(orphans).await {
                Ok(report) if report != SweepReport::default() => tracing::info!(?report, "sweep"),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "sweep failed; retrying later"),
            }
        })
        .await;
    }

    /// Whether the deployment's next look for unowned files is this sweeper's: at most
    /// one per [`Sweeper::orphan_every`] among all the workers of the prefix. Without
    /// Redis, no.
    pub async fn take_orphan_turn(&self) -> bool {
        let one_per_period = RateLimit {
            burst: 1,
            per_second: 1.0 / self.orphan_every.as_secs_f64(),
        };
        matches!(
            self.runs
                .queue
                .take_token(ORPHAN_TURNS, one_per_period)
                .await,
            Ok(None)
        )
    }

    /// One pass of every check, the look for unowned files included.
    ///
    /// # Errors
    /// When the database or Redis is unavailable.
    pub async fn sweep_once(&self) -> Result<SweepReport, RunsError> {
        self.sweep(true).await
    }

    async fn sweep(&self, orphans: bool) -> Result<SweepReport, RunsError> {
        let mut report = SweepReport::default();
        self.reconcile(&mut report).await?;
        self.apply_retention(&mut report).await?;
        if orphans {
            report.files_removed += self.remove_orphans().await?;
        }
        Ok(report)
    }

    async fn reconcile(&self, report: &mut SweepReport) -> Result<(), RunsError> {
        let store = &self.runs.store;
        for run in store.active_runs(ACTIVE_BATCH).await? {
            let record = self.runs.queue.job(&run.id).await?;
            match record {
                Some(record) if record.state == Some(JobState::Dead) => {
                    self.settle_dead(&run, &record, report).await?;
                }
                // A done job of a run still queued or running: its record says the work
                // ended while the run did not (a retry that stopped half-way, a record
                // edited by hand). Only an attempt that was just acked after ending the
                // run can look so too, and it finds the run ended and does nothing.
                Some(record) if record.state == Some(JobState::Done) => {
                    self.runs.revive(&run).await?;
                    tracing::info!(run_id = run.id, "revived the done job of an unfinished run");
                    report.requeued += 1;
                }
                Some(record) if record.state.is_some() => {}
                _ => {
                    self.runs.queue.push(&self.runs.job_for(&run)?).await?;
                    tracing::info!(run_id = run.id, "re-pushed a run that had no job in Redis");
                    report.requeued += 1;
                }
            }
        }
        Ok(())
    }

    /// An active run whose job is dead: failed, unless the run started other attempts
    /// than the job. Then it was retried and its job never revived (Redis failed
    /// half-way through the retry; the job is revived now), or its worker was lost
    /// before the attempt reached the database (the run fails on what it recorded).
    async fn settle_dead(
        &self,
        run: &Run,
        record: &JobRecord,
        report: &mut SweepReport,
    ) -> Result<(), RunsError> {
        if self.runs.fail_dead_job(record).await? {
            report.failed += 1;
        } else if run.status == RunStatus::Queued && run.attempts == 0 && record.attempts > 0 {
            self.runs.revive(run).await?;
            tracing::info!(run_id = run.id, "revived the job of a retried run");
            report.requeued += 1;
        } else {
            let error = dead_run_error(record);
            let fence = Fence::Attempts(run.attempts);
            if self
                .runs
                .store
                .finish_run(&run.id, fence, RunStatus::Failed, &error)
                .await?
            {
                report.failed += 1;
            }
        }
        Ok(())
    }

    async fn apply_retention(&self, report: &mut SweepReport) -> Result<(), RunsError> {
        let store = &self.runs.store;
        let retention = self.runs.retention;
        let now = store.clock().now().timestamp_millis();
        let ago = |period: Duration| now - i64::try_from(period.as_millis()).unwrap_or(i64::MAX);
        let mut doomed = store.expire_files(now).await?;
        doomed.extend(store.prune_runs(ago(retention.runs)).await?);
        store.prune_tokens(now).await?;
        store
            .prune_idempotency_keys(ago(retention.idempotency_keys))
            .await?;
        store.prune_deliveries(ago(retention.runs)).await?;
        for location in doomed {
            match self.runs.storage.remove(&location).await {
                Ok(true) => report.files_removed += 1,
                Ok(false) => {}
                // The row has forgotten it: the orphan sweep removes it later.
                Err(error) => tracing::warn!(%error, location, "could not remove an expired file"),
            }
        }
        Ok(())
    }

    /// Removes files and objects that no run owns (losing attempts, orphaned
    /// temporaries and uploads) once they are older than the grace period, and empty
    /// folders.
    async fn remove_orphans(&self) -> Result<usize, RunsError> {
        let owned: HashSet<String> = self.runs.store.owned_files().await?.into_iter().collect();
        Ok(self
            .runs
            .storage
            .remove_unowned(owned, self.orphan_grace)
            .await?)
    }
}
