//! The worker runtime, its middleware chain and locks, around any [`JobHandler`]. It
//! knows nothing about reports.
//!
//! - [`JobHandler`], [`JobContext`], [`JobError`]: the seam a job kind implements.
//! - [`Worker`]: the runtime (`run` loop, `process_one` for deterministic tests).
//! - [`Middleware`], [`LockMiddleware`]: the chain each attempt enters.
//! - [`Observer`], [`JobEvent`]: events after each committed change.

mod acks;
mod attempt;
mod builder;
mod events;
mod handler;
mod heartbeat;
mod middleware;
mod options;
mod retry;
mod runtime;

pub use attempt::{AttemptOutcome, Processed};
pub use builder::WorkerBuilder;
pub use events::{EventKind, JobEvent, Observer, ObserverError};
pub use handler::{JobContext, JobError, JobHandler, Outcome};
pub use middleware::{Attempt, Gate, LockMiddleware, Middleware};
pub use options::{Exit, WorkerOptions};
pub use runtime::Worker;
