//! How a worker runs, and why it stopped.

use std::time::Duration;

use crate::queue::Backoff;

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Queues served, highest priority first.
    pub queues: Vec<String>,
    /// Attempts run at the same time.
    pub concurrency: usize,
    /// Lease of each reservation, renewed every third of it.
    pub lease: Duration,
    /// Caps every job's own timeout on this worker.
    pub max_timeout: Option<Duration>,
    /// On shutdown, how long running attempts may take to finish before they are
    /// cancelled and handed back.
    pub grace: Duration,
    /// Stop after reserving this many jobs.
    pub max_jobs: Option<u64>,
    /// Stop reserving after running this long (running jobs still finish).
    pub max_time: Option<Duration>,
    /// Stop once no job is ready and none is running.
    pub stop_when_empty: bool,
    /// Delays between retries of transient failures.
    pub backoff: Backoff,
    /// How long one observer call may take.
    pub observer_timeout: Duration,
}

impl Default for WorkerOptions {
    fn default() -> WorkerOptions {
        WorkerOptions {
            queues: vec!["default".into()],
            concurrency: 1,
            lease: Duration::from_secs(30),
            max_timeout: None,
            grace: Duration::from_secs(30),
            max_jobs: None,
            max_time: None,
            stop_when_empty: false,
            backoff: Backoff::default(),
            observer_timeout: Duration::from_secs(5),
        }
    }
}

/// Why [`Worker::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The shutdown token fired (SIGTERM, SIGINT).
    Shutdown,
    /// A restart was broadcast after the worker started.
    Restart,
    /// `max_jobs` were reserved.
    MaxJobs,
    /// `max_time` passed.
    MaxTime,
    /// `stop_when_empty` and nothing was left to do.
    Empty,
}
