//! Keeps runs in step with their jobs' fates: each event of a report job goes into its
//! run's history (the dashboard's attempts and lock waits), and a report job that ends
//! failed (its last attempt timed out) or that the queue buries (lost on its last
//! attempt, recovered too often, waited too long for a lock) fails its run at once.
//! Like every observer it runs after the queue committed the outcome, and the sweep
//! repeats the check in case this one never ran.

use super::Runs;
use super::handler::REPORT_JOB_KIND;
use crate::queue::JobState;
use crate::store::RunEvent;
use crate::worker::{EventKind, JobEvent, Observer, ObserverError};

/// Fails runs whose jobs died outside their handler.
#[derive(Debug, Clone)]
pub struct RunsObserver {
    runs: Runs,
}

impl RunsObserver {
    /// An observer updating the runs of `runs`.
    pub fn new(runs: Runs) -> RunsObserver {
        RunsObserver { runs }
    }
}

impl Observer for RunsObserver {
    async fn observe(&self, event: &JobEvent) -> Result<(), ObserverError> {
        let is_report = event
            .job_kind
            .as_deref()
            .is_none_or(|kind| kind == REPORT_JOB_KIND);
        if is_report && event.kind != EventKind::Reserved {
            self.record(event).await?;
        }
        // Failed: the handler's error ended the job (the handler has usually recorded
        // it already; then this changes nothing). Dead: the queue buried it.
        // Read back from Redis rather than trusted from the event: by the time an
        // observer runs, a retry may have revived the job or reset the run.
        if matches!(event.kind, EventKind::Dead | EventKind::Failed)
            && is_report
            && let Some(record) = self.runs.queue.job(&event.job_id).await?
            && record.state == Some(JobState::Dead)
        {
            self.runs.fail_dead_job(&record).await?;
        }
        Ok(())
    }
}

impl RunsObserver {
    /// Appends `event` to its run's history.
    async fn record(&self, event: &JobEvent) -> Result<(), ObserverError> {
        let store = &self.runs.store;
        let entry = RunEvent {
            at: store.now_ms(),
            kind: event.kind.as_str().to_owned(),
            attempt: i32::try_from(event.attempt).unwrap_or(i32::MAX),
            worker: event.worker_id.clone(),
            detail: event.detail.clone(),
            delay_ms: event
                .delay
                .map(|delay| i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)),
        };
        store.record_run_event(&event.job_id, &entry).await?;
        Ok(())
    }
}
