//! One attempt, from reservation to committed outcome: decode, the middleware chain,
//! the handler under its timeout, lease and hard stop, then the fenced transition and
//! its event.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use super::events::{EventKind, JobEvent};
use super::handler::{Handler, JobContext, JobError, Outcome};
use super::heartbeat::{self, LeaseWatch};
use super::middleware::{Attempt, Gate};
use super::retry::persist;
use super::runtime::Shared;
use crate::queue::{Claim, DeathCause, Deferred, Job, QueueError, Reservation};

/// How one attempt ended, once its outcome was committed (or refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// Done.
    Succeeded,
    /// Failed transiently; runs again after the delay.
    Retried {
        /// The backoff chosen.
        delay: Duration,
        /// The error.
        error: String,
    },
    /// Waits again without consuming an attempt (lock busy, handler asked, handed back).
    Deferred {
        /// Why.
        reason: String,
    },
    /// The handler's error ended the job: it is dead.
    Failed {
        /// The last real error.
        error: String,
    },
    /// The job is dead for another reason (undecodable, unknown kind, lock wait).
    Dead {
        /// Why.
        reason: String,
    },
    /// The attempt lost its lease: nothing was committed, the job belongs to another.
    LeaseLost,
}

impl AttemptOutcome {
    /// The error or reason it carries, for events.
    fn detail(&self) -> Option<String> {
        match self {
            AttemptOutcome::Retried { error, .. } | AttemptOutcome::Failed { error } => {
                Some(error.clone())
            }
            AttemptOutcome::Deferred { reason } | AttemptOutcome::Dead { reason } => {
                Some(reason.clone())
            }
            AttemptOutcome::Succeeded | AttemptOutcome::LeaseLost => None,
        }
    }
}

/// One job that [`Worker::process_one`] handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    /// The job.
    pub job_id: String,
    /// The attempt's number.
    pub attempt: u32,
    /// How it ended.
    pub outcome: AttemptOutcome,
}

/// Why a running handler was stopped before it returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Timeout,
    LeaseLost,
    Shutdown,
}

/// What running the handler came to. A timeout becomes a transient error, so only a
/// lost lease and a shutdown remain stops.
enum Executed {
    Returned(Result<Outcome, JobError>),
    Stopped(Stop),
    /// Past the job's timeout: a transient error that, on the last attempt, kills it
    /// as timed out.
    TimedOut(String),
}

impl Shared {
    /// One attempt, from reservation to committed outcome.
    pub(super) async fn attempt(
        self: Arc<Self>,
        reservation: Reservation,
        mut lease: LeaseWatch,
        hard_stop: CancellationToken,
        slot: Option<OwnedSemaphorePermit>,
    ) -> Processed {
        let claim = reservation.claim.clone();
        let attempt = reservation.attempt;
        // Debug level: at tens of thousands of jobs a second, formatting an info span per
        // job was a visible share of the worker's time. The worker's own warnings carry
        // the job id instead.
        let span = tracing::debug_span!("job", job_id = %claim.job_id, attempt, kind = tracing::field::Empty);
        let outcome = self
            .run_attempt(reservation, &mut lease, &hard_stop, slot)
            .instrument(span)
            .await;
        self.held.remove(&claim);
        Processed {
            job_id: claim.job_id,
            attempt,
            outcome,
        }
    }

    async fn run_attempt(
        &self,
        reservation: Reservation,
        lease: &mut LeaseWatch,
        hard_stop: &CancellationToken,
        slot: Option<OwnedSemaphorePermit>,
    ) -> AttemptOutcome {
        let mut current = Current {
            shared: self,
            claim: &reservation.claim,
            job: None,
            attempt: reservation.attempt,
            hard_stop,
        };
        let job = match reservation.decode() {
            Ok(job) => Arc::new(job),
            Err(error) => {
                let reason = format!("the job cannot be decoded: {error}");
                return current.commit(Ending::Bury(reason)).await;
            }
        };
        current.job = Some(&job);
        tracing::Span::current().record("kind", job.kind.as_str());
        current.emit(EventKind::Reserved, None, None);

        // Before any lock is taken: a job nobody can run must not hold one.
        let Some(handler) = self.handlers.get(&job.kind) else {
            let error = format!("no handler is registered for job kind {:?}", job.kind);
            return current
                .commit(current.failure(JobError::Permanent(error), DeathCause::Failed))
                .await;
        };
        let scope = Attempt {
            queue: &self.queue,
            job: &job,
            claim: current.claim,
            lease: self.options.lease,
        };
        for middleware in &self.middleware {
            match persist(hard_stop, || middleware.enter(scope)).await {
                Ok(Gate::Proceed) => {}
                // The middleware already made the transition; only the event is left.
                Ok(Gate::Parked { reason }) => {
                    current.emit(EventKind::Deferred, Some(reason.clone()), None);
                    return AttemptOutcome::Deferred { reason };
                }
                Ok(Gate::Dead { reason }) => {
                    current.emit(EventKind::Dead, Some(reason.clone()), None);
                    return AttemptOutcome::Dead { reason };
                }
                Err(error) => return refused(current.claim, &error),
            }
        }

        current.emit(EventKind::Started, None, None);
        metrics::counter!("quire_job_attempts_total", "kind" => job.kind.clone()).increment(1);
        let executed = self.execute(handler, &job, &current, lease).await;
        drop(slot);
        let ending = match executed {
            Executed::Returned(Ok(Outcome::Completed)) => Ending::Ack,
            Executed::Returned(Ok(Outcome::Defer(delay))) => Ending::Defer(delay),
            Executed::Returned(Err(error)) => current.failure(error, DeathCause::Failed),
            Executed::TimedOut(error) => {
                current.failure(JobError::Transient(error), DeathCause::TimedOut)
            }
            Executed::Stopped(Stop::Shutdown) => Ending::HandBack,
            Executed::Stopped(_) => {
                tracing::warn!(job_id = %current.claim.job_id, "the lease could not be renewed: attempt cancelled");
                return AttemptOutcome::LeaseLost;
            }
        };
        current.commit(ending).await
    }

    /// Runs the handler under the job's timeout, the lease and the hard stop. A handler
    /// told to stop gets a short wind-down; work it completes meanwhile is kept, and a
    /// timeout is a transient error (it counts as an attempt).
    async fn execute(
        &self,
        handler: Handler,
        job: &Arc<Job>,
        current: &Current<'_>,
        lease: &mut LeaseWatch,
    ) -> Executed {
        let cancel = CancellationToken::new();
        let ctx = JobContext::new(
            Arc::clone(job),
            current.attempt,
            current.claim.clone(),
            cancel.clone(),
        );
        let mut handler = handler.run(ctx);
        let timeout = self
            .options
            .max_timeout
            .map_or(job.timeout, |max| max.min(job.timeout));
        let stop = tokio::select! {
            result = &mut handler => return Executed::Returned(result),
            () = tokio::time::sleep(timeout) => Stop::Timeout,
            () = lease.lost() => Stop::LeaseLost,
            () = current.hard_stop.cancelled() => Stop::Shutdown,
        };
        cancel.cancel();
        let wound_down =
            tokio::time::timeout(heartbeat::wind_down(self.options.lease), handler).await;
        match (stop, wound_down) {
            (Stop::LeaseLost, _) => Executed::Stopped(Stop::LeaseLost),
            (_, Ok(Ok(outcome))) => Executed::Returned(Ok(outcome)),
            (Stop::Timeout, _) => Executed::TimedOut(format!(
                "timed out after {}",
                humantime::format_duration(timeout)
            )),
            (Stop::Shutdown, _) => Executed::Stopped(Stop::Shutdown),
        }
    }
}

/// How an attempt ends, before it is committed.
#[derive(Debug)]
enum Ending {
    Ack,
    Defer(Duration),
    Retry { delay: Duration, error: String },
    Fail(DeathCause, String),
    Bury(String),
    HandBack,
}

/// The attempt being committed: what every transition and event of it needs.
struct Current<'a> {
    shared: &'a Shared,
    claim: &'a Claim,
    job: Option<&'a Job>,
    attempt: u32,
    hard_stop: &'a CancellationToken,
}

impl Current<'_> {
    fn emit(&self, kind: EventKind, detail: Option<String>, delay: Option<Duration>) {
        self.shared.bus.emit(JobEvent {
            kind,
            job_id: self.claim.job_id.clone(),
            job_kind: self.job.map(|job| job.kind.clone()),
            attempt: self.attempt,
            worker_id: self.shared.id.clone(),
            detail,
            delay,
        });
    }

    /// A transient error with attempts left is retried with backoff; anything else
    /// fails the job with this, its last real error.
    fn failure(&self, error: JobError, cause: DeathCause) -> Ending {
        let max_attempts = self.job.map_or(1, |job| job.max_attempts);
        match error {
            JobError::Transient(error) if self.attempt < max_attempts => Ending::Retry {
                delay: self.shared.options.backoff.delay(self.attempt),
                error,
            },
            error => Ending::Fail(cause, error.to_string()),
        }
    }

    /// The ending's Redis transition, fenced by the attempt's claim.
    async fn transition(&self, ending: &Ending) -> Result<Deferred, QueueError> {
        let (queue, claim) = (&self.shared.queue, self.claim);
        let done = match ending {
            Ending::Ack => self.shared.acks.ack(claim).await,
            Ending::Defer(delay) => queue.defer(claim, *delay).await,
            Ending::Retry { delay, error } => queue.retry(claim, *delay, error).await,
            Ending::Fail(cause, reason) => queue.fail(claim, *cause, reason).await,
            Ending::Bury(reason) => queue.fail(claim, DeathCause::Undecodable, reason).await,
            Ending::HandBack => return queue.hand_back(claim).await,
        };
        done.map(|()| Deferred::Yes)
    }

    /// Makes the ending's transition (retrying while Redis is away), then emits its event.
    async fn commit(&self, ending: Ending) -> AttemptOutcome {
        let claim = self.claim;
        // A hand-back comes after the hard stop, when `persist` makes a single try: the
        // worker is leaving, and if Redis is away the lease will lapse instead.
        let committed = persist(self.hard_stop, || self.transition(&ending)).await;
        let buried = match committed {
            Ok(deferred) => deferred == Deferred::Buried,
            Err(error) => return refused(claim, &error),
        };
        let (kind, outcome, delay) = match ending {
            Ending::HandBack if buried => {
                let reason = "handed back by stopping workers too many times".to_owned();
                (EventKind::Dead, AttemptOutcome::Dead { reason }, None)
            }
            Ending::HandBack => {
                let reason = "handed back by a stopping worker".to_owned();
                (
                    EventKind::Deferred,
                    AttemptOutcome::Deferred { reason },
                    None,
                )
            }
            Ending::Ack => (EventKind::Succeeded, AttemptOutcome::Succeeded, None),
            Ending::Defer(delay) => {
                let reason = "the handler deferred it".to_owned();
                (
                    EventKind::Deferred,
                    AttemptOutcome::Deferred { reason },
                    Some(delay),
                )
            }
            Ending::Retry { delay, error } => (
                EventKind::Retried,
                AttemptOutcome::Retried { delay, error },
                Some(delay),
            ),
            Ending::Fail(_, error) => {
                tracing::warn!(job_id = %claim.job_id, %error, "job failed");
                (EventKind::Failed, AttemptOutcome::Failed { error }, None)
            }
            Ending::Bury(reason) => {
                tracing::warn!(job_id = %claim.job_id, %reason, "job sent to the dead set");
                (EventKind::Dead, AttemptOutcome::Dead { reason }, None)
            }
        };
        self.emit(kind, outcome.detail(), delay);
        outcome
    }
}

/// A transition that did not happen: the lease was lost, or Redis stayed away until the
/// worker stopped. Either way the job's lease decides what happens next.
fn refused(claim: &Claim, error: &QueueError) -> AttemptOutcome {
    tracing::warn!(job_id = %claim.job_id, %error, "the attempt's outcome was not committed");
    AttemptOutcome::LeaseLost
}
