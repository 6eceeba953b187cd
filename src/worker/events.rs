//! Job events and their observers. An event is emitted only after the Redis state
//! change it reports is committed, and observers run on their own tasks with a time
//! limit: one that errors, panics or hangs is logged and never changes an outcome.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::task::AbortOnDropHandle;

/// What happened to a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A worker took it.
    Reserved,
    /// Its locks are held and the handler starts.
    Started,
    /// It is done.
    Succeeded,
    /// The attempt failed with a transient error; it runs again after a delay.
    Retried,
    /// It waits again without consuming an attempt (a lock is busy, the handler asked
    /// to run later, or a stopping worker handed it back).
    Deferred,
    /// The handler's error ended it (permanent, or the last attempt): it is dead.
    Failed,
    /// The queue sent it to the dead set for another reason (undecodable, lost on its
    /// last attempt, recovered too often, waited too long for a lock).
    Dead,
}

impl EventKind {
    /// The event's name in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Reserved => "reserved",
            EventKind::Started => "started",
            EventKind::Succeeded => "succeeded",
            EventKind::Retried => "retried",
            EventKind::Deferred => "deferred",
            EventKind::Failed => "failed",
            EventKind::Dead => "dead",
        }
    }
}

/// One committed change of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobEvent {
    /// What happened.
    pub kind: EventKind,
    /// The job.
    pub job_id: String,
    /// The job's kind, when known (not for an undecodable job).
    pub job_kind: Option<String>,
    /// The attempt it happened in (0 when no attempt was involved).
    pub attempt: u32,
    /// The worker that committed it.
    pub worker_id: String,
    /// The error or reason, for retried, deferred, failed and dead.
    pub detail: Option<String>,
    /// For retried and deferred: how long the job waits.
    pub delay: Option<Duration>,
}

/// Errors an observer may return; they are logged, nothing more.
pub type ObserverError = Box<dyn std::error::Error + Send + Sync>;

/// Receives job events after they are committed (logs, metrics, webhooks).
pub trait Observer: Send + Sync + 'static {
    /// Handles one event.
    fn observe(&self, event: &JobEvent) -> impl Future<Output = Result<(), ObserverError>> + Send;
}

trait DynObserver: Send + Sync {
    fn observe_boxed<'a>(&'a self, event: &'a JobEvent)
    -> BoxFuture<'a, Result<(), ObserverError>>;
}

impl<O: Observer> DynObserver for O {
    fn observe_boxed<'a>(
        &'a self,
        event: &'a JobEvent,
    ) -> BoxFuture<'a, Result<(), ObserverError>> {
        Box::pin(self.observe(event))
    }
}

/// Events waiting for a slow observer beyond this many are dropped (and counted), so a
/// stuck observer never holds memory or workers hostage.
const BACKLOG: usize = 100_000;

/// Hands events to every observer: one task and one queue per observer, so a slow one
/// only delays itself.
#[derive(Clone, Default)]
pub(crate) struct EventBus {
    senders: Vec<mpsc::Sender<Arc<JobEvent>>>,
}

/// The observers' tasks; [`Dispatchers::finish`] lets them drain after the bus is gone.
#[derive(Default)]
pub(crate) struct Dispatchers {
    tasks: JoinSet<()>,
}

/// Observers registered on a worker before it starts.
#[derive(Clone, Default)]
pub(crate) struct Observers {
    list: Vec<Arc<dyn DynObserver>>,
}

impl Observers {
    pub(super) fn push(&mut self, observer: impl Observer) {
        self.list.push(Arc::new(observer));
    }

    /// Starts one dispatcher task per observer; each call is limited to `timeout`.
    pub(super) fn start(&self, timeout: Duration) -> (EventBus, Dispatchers) {
        let mut bus = EventBus::default();
        let mut dispatchers = Dispatchers::default();
        for observer in &self.list {
            let (sender, receiver) = mpsc::channel(BACKLOG);
            bus.senders.push(sender);
            dispatchers
                .tasks
                .spawn(dispatch(Arc::clone(observer), receiver, timeout));
        }
        (bus, dispatchers)
    }
}

async fn dispatch(
    observer: Arc<dyn DynObserver>,
    mut events: mpsc::Receiver<Arc<JobEvent>>,
    timeout: Duration,
) {
    while let Some(event) = events.recv().await {
        let observer = Arc::clone(&observer);
        let call_event = Arc::clone(&event);
        // Its own task, so that a panic is caught as a JoinError; owned here, so that a
        // dispatcher aborted at the end of a drain takes its call with it.
        let mut call = AbortOnDropHandle::new(tokio::spawn(async move {
            observer.observe_boxed(&call_event).await
        }));
        match tokio::time::timeout(timeout, &mut call).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => {
                tracing::warn!(event = event.kind.as_str(), job_id = %event.job_id, %error, "an observer failed");
            }
            Ok(Err(panic)) => {
                tracing::warn!(event = event.kind.as_str(), job_id = %event.job_id, %panic, "an observer panicked");
            }
            Err(_) => {
                call.abort();
                tracing::warn!(event = event.kind.as_str(), job_id = %event.job_id, ?timeout, "an observer timed out");
            }
        }
    }
}

impl EventBus {
    /// Delivers `event` to every observer without waiting for any of them.
    pub(super) fn emit(&self, event: JobEvent) {
        metrics::counter!("quire_job_events_total", "event" => event.kind.as_str()).increment(1);
        tracing::debug!(event = event.kind.as_str(), job_id = %event.job_id, attempt = event.attempt, detail = ?event.detail, "job event");
        let event = Arc::new(event);
        for sender in &self.senders {
            if sender.try_send(Arc::clone(&event)).is_err() {
                metrics::counter!("quire_job_events_dropped_total").increment(1);
            }
        }
    }
}

impl Dispatchers {
    /// Waits up to `limit` for the observers to handle what is queued (the bus must be
    /// dropped first), then abandons the rest.
    pub(super) async fn finish(mut self, limit: Duration) {
        let drained = tokio::time::timeout(limit, async {
            while self.tasks.join_next().await.is_some() {}
        });
        if drained.await.is_err() {
            self.tasks.abort_all();
        }
    }
}
