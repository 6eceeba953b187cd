//! The one real seam: a [`JobHandler`] runs one attempt of a job of its kind.

use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use crate::queue::{Claim, Job};

/// Why an attempt failed; the type decides whether the job is retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// Retrying cannot help (bad payload, a broken definition): the job fails at once.
    #[error("{0}")]
    Permanent(String),
    /// Retrying may help (connection lost, timeout, I/O): the job is retried with
    /// backoff until its `max_attempts`, then fails with this error.
    #[error("{0}")]
    Transient(String),
}

impl JobError {
    /// A permanent failure described by `error`.
    pub fn permanent(error: impl Display) -> JobError {
        JobError::Permanent(error.to_string())
    }

    /// A transient failure described by `error`.
    pub fn transient(error: impl Display) -> JobError {
        JobError::Transient(error.to_string())
    }
}

/// What a successful attempt asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The job is done.
    Completed,
    /// Run the job again after this delay, without consuming an attempt.
    Defer(Duration),
}

/// Everything one attempt may know: the job, which attempt this is, the claim that fences
/// its effects, and the token it must watch to stop (timeout, lease lost, shutdown).
#[derive(Debug, Clone)]
pub struct JobContext {
    job: Arc<Job>,
    attempt: u32,
    claim: Claim,
    cancel: CancellationToken,
}

impl JobContext {
    pub(crate) fn new(
        job: Arc<Job>,
        attempt: u32,
        claim: Claim,
        cancel: CancellationToken,
    ) -> Self {
        JobContext {
            job,
            attempt,
            claim,
            cancel,
        }
    }

    /// The job as pushed.
    pub fn job(&self) -> &Job {
        &self.job
    }

    /// This attempt's number, from 1.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The job id and this attempt's fencing token: a handler's own durable writes
    /// (a database row, a file) should be fenced by it.
    pub fn claim(&self) -> &Claim {
        &self.claim
    }

    /// Cancelled when the attempt must stop: its timeout passed, its lease could not be
    /// renewed, or the worker is stopping. Long work must check it.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancel
    }

    /// The payload decoded as `T`.
    ///
    /// # Errors
    /// A payload that does not decode is a [`JobError::Permanent`]: no retry fixes it.
    pub fn payload<T: DeserializeOwned>(&self) -> Result<T, JobError> {
        serde_json::from_value(self.job.payload.clone())
            .map_err(|error| JobError::Permanent(format!("the payload is invalid: {error}")))
    }
}

/// Runs attempts of one kind of job.
pub trait JobHandler: Send + Sync + 'static {
    /// Runs one attempt. Return [`JobError::Transient`] for failures worth retrying and
    /// [`JobError::Permanent`] for the rest; stop promptly once the context's
    /// cancellation token fires.
    fn run(&self, ctx: JobContext) -> impl Future<Output = Result<Outcome, JobError>> + Send;
}

/// [`JobHandler`] with its future boxed, so handlers of different types share one map.
trait DynHandler: Send + Sync {
    fn run_boxed(&self, ctx: JobContext) -> BoxFuture<'_, Result<Outcome, JobError>>;
}

impl<H: JobHandler> DynHandler for H {
    fn run_boxed(&self, ctx: JobContext) -> BoxFuture<'_, Result<Outcome, JobError>> {
        Box::pin(self.run(ctx))
    }
}

/// Handlers by job kind.
#[derive(Clone, Default)]
pub(crate) struct Handlers {
    by_kind: HashMap<String, Arc<dyn DynHandler>>,
}

impl Handlers {
    pub(super) fn insert(&mut self, kind: String, handler: impl JobHandler) {
        self.by_kind.insert(kind, Arc::new(handler));
    }

    /// The handler of `kind`, if one is registered.
    pub(super) fn get(&self, kind: &str) -> Option<Handler> {
        self.by_kind
            .get(kind)
            .map(|handler| Handler(Arc::clone(handler)))
    }
}

/// One registered handler, ready to run an attempt.
pub(crate) struct Handler(Arc<dyn DynHandler>);

impl Handler {
    /// The attempt's future, owning what it needs.
    pub(super) fn run(self, ctx: JobContext) -> BoxFuture<'static, Result<Outcome, JobError>> {
        Box::pin(async move { self.0.run_boxed(ctx).await })
    }
}
