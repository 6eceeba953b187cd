//! Putting a worker together: handlers by kind, observers, middleware.

use std::sync::Arc;

use super::acks::Acker;
use super::events::{Observer, Observers};
use super::handler::{Handlers, JobHandler};
use super::heartbeat::Held;
use super::middleware::{LockMiddleware, Middleware};
use super::options::WorkerOptions;
use super::runtime::{Shared, Worker};
use crate::queue::Queue;

/// Builds a [`Worker`]: handlers by kind, observers, extra middleware.
pub struct WorkerBuilder {
    queue: Queue,
    options: WorkerOptions,
    handlers: Handlers,
    observers: Observers,
    middleware: Vec<Arc<dyn Middleware>>,
}

impl WorkerBuilder {
    /// Runs jobs of `kind` with `handler`.
    pub fn handler(mut self, kind: impl Into<String>, handler: impl JobHandler) -> Self {
        self.handlers.insert(kind.into(), handler);
        self
    }

    /// Adds an observer of job events.
    pub fn observer(mut self, observer: impl Observer) -> Self {
        self.observers.push(observer);
        self
    }

    /// Appends a middleware after the two lock middlewares.
    pub fn middleware(mut self, middleware: impl Middleware) -> Self {
        self.middleware.push(Arc::new(middleware));
        self
    }

    /// The worker; its observers start at once (needs a Tokio runtime).
    pub fn build(self) -> Worker {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|name| name.trim().to_owned())
            .unwrap_or_else(|_| "unknown".into());
        let id = format!(
            "{host}-{}-{}",
            std::process::id(),
            uuid::Uuid::now_v7().simple()
        );
        let (bus, dispatchers) = self.observers.start(self.options.observer_timeout);
        Worker {
            shared: Arc::new(Shared {
                acks: Acker::start(self.queue.clone()),
                queue: self.queue,
                options: self.options,
                handlers: self.handlers,
                middleware: self.middleware,
                bus,
                held: Arc::new(Held::default()),
                id,
                host,
            }),
            dispatchers,
        }
    }
}

impl Worker {
    /// A builder for a worker on `queue`, with the unique-job and without-overlapping
    /// lock middlewares.
    pub fn builder(queue: Queue, options: WorkerOptions) -> WorkerBuilder {
        WorkerBuilder {
            queue,
            options,
            handlers: Handlers::default(),
            observers: Observers::default(),
            // The overlap lock is the contended one (a tenant's runs queue behind each
            // other), so it goes first: a job that parks on it never takes and drops
            // its unique lock, and each lock is taken exactly once per attempt.
            middleware: vec![
                Arc::new(LockMiddleware::overlap()),
                Arc::new(LockMiddleware::unique()),
            ],
        }
    }
}
