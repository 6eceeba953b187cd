//! The middleware chain, entered once per attempt before the handler runs. The two
//! built-in middlewares take the unique-job lock and the without-overlapping lock.
//!
//! A middleware only decides whether the attempt may proceed. Nothing needs undoing on
//! the way out: the locks an attempt holds are released by the very script that ends
//! the attempt (ack, retry, defer, fail, hand-back, or lease recovery), atomically with
//! the job's state, compare-and-delete on the attempt's token.

use std::time::Duration;

use futures::future::BoxFuture;

use crate::queue::{Acquired, Claim, Job, LockKind, Queue, QueueError};

/// What one attempt is, as a middleware sees it.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// The queue, for the middleware's own Redis transitions.
    pub queue: &'a Queue,
    /// The job.
    pub job: &'a Job,
    /// The attempt's claim: the owner of anything it takes.
    pub claim: &'a Claim,
    /// The worker's lease, the TTL of anything it takes (renewed with the lease).
    pub lease: Duration,
}

/// A middleware's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Go on to the next middleware, then the handler.
    Proceed,
    /// The job was given back to wait, its attempt not consumed; stop here.
    Parked {
        /// Why, for the deferred event.
        reason: String,
    },
    /// The job is dead; stop here.
    Dead {
        /// Why, for the dead event.
        reason: String,
    },
}

/// One step of the chain.
pub trait Middleware: Send + Sync + 'static {
    /// Decides whether the attempt proceeds. A transition the middleware makes must be
    /// fenced by `attempt.claim`.
    ///
    /// # Errors
    /// [`QueueError::LeaseLost`] when the attempt lost the job; Redis failing (the
    /// runtime retries the step while the lease holds).
    fn enter<'a>(&'a self, attempt: Attempt<'a>) -> BoxFuture<'a, Result<Gate, QueueError>>;
}

/// Takes one of the job's locks for the attempt, or parks the job until it is free.
#[derive(Debug, Clone, Copy)]
pub struct LockMiddleware {
    kind: LockKind,
}

impl LockMiddleware {
    /// The unique-job lock, keyed by the job's `unique_key`.
    pub fn unique() -> LockMiddleware {
        LockMiddleware {
            kind: LockKind::Unique,
        }
    }

    /// The without-overlapping lock, keyed by the job's `overlap_key`.
    pub fn overlap() -> LockMiddleware {
        LockMiddleware {
            kind: LockKind::Overlap,
        }
    }
}

impl Middleware for LockMiddleware {
    fn enter<'a>(&'a self, attempt: Attempt<'a>) -> BoxFuture<'a, Result<Gate, QueueError>> {
        Box::pin(async move {
            let key = match self.kind {
                LockKind::Unique => &attempt.job.unique_key,
                LockKind::Overlap => &attempt.job.overlap_key,
            };
            let Some(key) = key else {
                return Ok(Gate::Proceed);
            };
            let outcome = attempt
                .queue
                .acquire(attempt.claim, self.kind, attempt.lease)
                .await?;
            Ok(match outcome {
                Acquired::Yes => Gate::Proceed,
                Acquired::Parked => {
                    metrics::counter!("quire_lock_waits_total", "lock" => self.kind.as_str())
                        .increment(1);
                    Gate::Parked {
                        reason: format!("waiting for the {} lock {key}", self.kind.as_str()),
                    }
                }
                Acquired::TimedOut => Gate::Dead {
                    reason: "overlap_timeout".into(),
                },
            })
        })
    }
}
