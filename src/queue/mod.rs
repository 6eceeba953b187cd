//! The reliable Redis queue. Every transition is one Lua script (see `lua/`), fenced by
//! the attempt's token; lease deadlines come from Redis `TIME`. The queue knows nothing
//! about reports: a job names its handler (`kind`), carries an opaque payload, the keys
//! of its locks and its own limits.
//!
//! - [`keys`]: every key name, under one hash tag per prefix.
//! - [`Job`], [`Reservation`], [`Claim`]: what is pushed, taken and fenced.
//! - [`Queue`]: push, reserve, renew, ack, retry, defer, hand back, fail, lock or park,
//!   plus inspection and the dead-set tools.
//! - [`Waker`]: the blocking pop idle workers wait on, on its own connection.
//! - [`Backoff`]: exponential backoff with full jitter.

mod backoff;
mod client;
mod connection;
mod job;
pub mod keys;
mod rate;
mod scripts;

pub use backoff::Backoff;
pub use client::{
    Acquired, Deferred, LockKind, MAX_BLOCK, Queue, QueueConfig, ReserveRequest, Waker, WorkerInfo,
};
pub use connection::Connection;
pub use job::{
    Buried, Claim, Counts, DeathCause, Job, JobHistory, JobRecord, JobState, Loads, QueueLoad,
    Reservation, Reserved,
};
pub use rate::{InvalidRate, RateLimit};

/// Errors of the queue layer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum QueueError {
    /// Redis could not be reached or refused the command; retry later.
    #[error("Redis failed: {0}")]
    Redis(#[from] redis::RedisError),
    /// The attempt no longer holds the job (its lease lapsed and the job was recovered,
    /// or it already ended): the transition was refused and nothing changed.
    #[error("job {job_id}: this attempt no longer holds the job (lease lost)")]
    LeaseLost {
        /// The job.
        job_id: String,
    },
    /// The job cannot be pushed as it is.
    #[error("invalid job {0}")]
    InvalidJob(String),
    /// A script answered something the client does not understand (a bug).
    #[error("unexpected reply from a queue script: {0}")]
    Reply(String),
}

impl QueueError {
    /// Whether the error is Redis being unreachable or failing, which a retry may cure.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, QueueError::Redis(_))
    }
}
