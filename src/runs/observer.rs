//! Keeps runs in step with their jobs' fates: a report job that ends failed (its last
//! attempt timed out) or that the queue buries (lost on its last attempt, recovered too
//! often, waited too long for a lock) fails its run at once. Like every observer it runs after the queue committed the outcome, and the
//! sweep repeats the check in case this one never ran.

use super::Runs;
use super::handler::REPORT_JOB_KIND;
use crate::queue::JobState;
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
