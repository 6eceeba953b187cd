//! The worker: reserves jobs, runs each attempt through the middleware chain and its
//! handler under a lease, a timeout and a cancellation token, and commits the outcome.
//! [`Worker::process_one`] runs one job alone; [`Worker::run`] is the loop on top.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;
use tracing::Instrument as _;

use super::acks::Acker;
use super::events::{EventBus, EventKind, JobEvent, Observer, Observers};
use super::handler::{Handler, Handlers, JobContext, JobError, JobHandler, Outcome};
use super::heartbeat::{self, Held, LeaseWatch};
use super::middleware::{Attempt, Gate, LockMiddleware, Middleware};
use crate::queue::{
    Backoff, Buried, Claim, DeathCause, Deferred, Job, Queue, QueueError, Reservation,
    ReserveRequest, WorkerInfo,
};

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

/// What every attempt of a worker shares.
struct Shared {
    queue: Queue,
    /// Acks go through the batcher, so that many finished attempts share one call.
    acks: Acker,
    options: WorkerOptions,
    handlers: Handlers,
    middleware: Vec<Arc<dyn Middleware>>,
    bus: EventBus,
    held: Arc<Held>,
    id: String,
    host: String,
}

/// A worker process's runtime (several may share a process, as tests do).
pub struct Worker {
    shared: Arc<Shared>,
    dispatchers: super::events::Dispatchers,
}

/// Redis errors are retried this often at first, backing off to a second.
const RETRY_FIRST: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(1);

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

    /// This worker's id, unique per start.
    pub fn id(&self) -> &str {
        &self.shared.id
    }

    /// Reserves one job and runs it to the end, heartbeat included. `None`: nothing was
    /// ready. For tests and tools that want a deterministic drain.
    ///
    /// # Errors
    /// Redis failing while reserving.
    pub async fn process_one(&self) -> Result<Option<Processed>, QueueError> {
        let sent = Instant::now();
        let Some(reservation) = self.shared.reserve(1).await?.into_iter().next() else {
            return Ok(None);
        };
        let lease = self
            .shared
            .held
            .insert(&reservation.claim, sent, self.shared.options.lease);
        let stop = CancellationToken::new();
        let beat = heartbeat::run(
            self.shared.queue.clone(),
            Arc::clone(&self.shared.held),
            self.shared.options.lease,
            None,
            stop.clone(),
        );
        let attempt =
            Arc::clone(&self.shared).attempt(reservation, lease, CancellationToken::new(), None);
        let (processed, ()) = tokio::join!(
            async {
                let processed = attempt.await;
                stop.cancel();
                processed
            },
            beat
        );
        Ok(Some(processed))
    }

    /// Runs until `shutdown` fires or a stop condition of the options holds, then
    /// finishes or hands back the running attempts and returns why it stopped. Redis
    /// outages are waited out with backoff; they never end the loop.
    ///
    /// Every task the worker starts (attempts, heartbeat, ack batcher, observers) is
    /// owned by this future. Cancel `shutdown` and await it to stop; dropping the future
    /// instead is a crash: its tasks are aborted at once, nothing is handed back, and
    /// its jobs are recovered once their leases lapse, as after a SIGKILL.
    pub async fn run(self, shutdown: CancellationToken) -> Exit {
        let shared = Arc::clone(&self.shared);
        let exit = match persist(&shutdown, || shared.queue.redis_time_ms()).await {
            Ok(started_ms) => shared.serve(started_ms, &shutdown).await,
            Err(error) => {
                if !shutdown.is_cancelled() {
                    tracing::error!(%error, "could not read Redis's time; the worker stops");
                }
                Exit::Shutdown
            }
        };
        let Worker {
            shared,
            dispatchers,
        } = self;
        let limit = shared.options.observer_timeout;
        // The last handle on the event bus: dropping it lets the observers drain.
        drop(shared);
        dispatchers.finish(limit).await;
        exit
    }
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
    /// The worker's life after start-up: heartbeat and registry, the reserve loop, the
    /// drain.
    async fn serve(self: Arc<Self>, started_ms: i64, shutdown: &CancellationToken) -> Exit {
        let stop_heartbeat = CancellationToken::new();
        let registry = WorkerInfo {
            id: self.id.clone(),
            host: self.host.clone(),
            pid: std::process::id(),
            started_ms,
            jobs: Vec::new(),
            heartbeat_ms: started_ms,
        };
        // Owned: dropping this future mid-run aborts the heartbeat with it.
        let heartbeat = AbortOnDropHandle::new(tokio::spawn(heartbeat::run(
            self.queue.clone(),
            Arc::clone(&self.held),
            self.options.lease,
            Some(registry),
            stop_heartbeat.clone(),
        )));
        tracing::info!(worker = %self.id, queues = ?self.options.queues, concurrency = self.options.concurrency, "worker started");
        let hard_stop = CancellationToken::new();
        let mut running = JoinSet::new();
        let exit = Arc::clone(&self)
            .reserve_until_stop(started_ms, shutdown, &mut running, &hard_stop)
            .await;
        tracing::info!(?exit, running = running.len(), "worker stopping");
        self.drain(exit, &mut running, shutdown, &hard_stop).await;
        stop_heartbeat.cancel();
        let _ = heartbeat.await;
        if let Err(error) = self.queue.deregister_worker(&self.id).await {
            tracing::debug!(%error, "could not deregister the worker");
        }
        exit
    }

    /// Reserves and starts jobs while slots are free, blocking on the wake-up list when
    /// nothing is ready, until a stop condition holds.
    async fn reserve_until_stop(
        self: Arc<Self>,
        started_ms: i64,
        shutdown: &CancellationToken,
        running: &mut JoinSet<Processed>,
        hard_stop: &CancellationToken,
    ) -> Exit {
        let options = &self.options;
        let started = Instant::now();
        let mut waker = self.queue.waker(&options.queues);
        let mut reserved_total: u64 = 0;
        let mut failures = 0;
        // A slot is a running handler. It is freed when the handler returns, before the
        // outcome is committed, so reserving the next jobs overlaps with the ack of the
        // last ones instead of waiting for it.
        let slots = Arc::new(Semaphore::new(options.concurrency));
        loop {
            while running.try_join_next().is_some() {}
            if shutdown.is_cancelled() {
                return Exit::Shutdown;
            }
            if options.max_time.is_some_and(|max| started.elapsed() >= max) {
                return Exit::MaxTime;
            }
            let left = options
                .max_jobs
                .map_or(u64::MAX, |max| max.saturating_sub(reserved_total));
            if left == 0 {
                return Exit::MaxJobs;
            }
            let want = usize::try_from(left).unwrap_or(usize::MAX);
            let mut free = free_slots(&slots, want);
            if free.is_empty() {
                // Every slot is busy: wait for one, then check the stop conditions again.
                tokio::select! {
                    () = shutdown.cancelled() => {}
                    _ = Arc::clone(&slots).acquire_owned() => {}
                }
                continue;
            }
            let want = free.len();
            let sent = Instant::now();
            let reserved = match self.queue.reserve(&self.reserve_request(want)).await {
                Ok(reserved) => {
                    failures = 0;
                    reserved
                }
                Err(error) => {
                    failures += 1;
                    tracing::warn!(%error, "could not reserve jobs; retrying");
                    pause(shutdown, backoff(failures)).await;
                    continue;
                }
            };
            self.emit_buried(&reserved.buried);
            let restart = reserved.restart_at.is_some_and(|at| at > started_ms);
            if restart || shutdown.is_cancelled() {
                // Taken after the stop signal: give them back untouched.
                for job in &reserved.jobs {
                    self.hand_back_unstarted(job).await;
                }
                return if restart {
                    Exit::Restart
                } else {
                    Exit::Shutdown
                };
            }
            if !reserved.jobs.is_empty() {
                reserved_total += reserved.jobs.len() as u64;
                for (reservation, slot) in reserved.jobs.into_iter().zip(free.drain(..)) {
                    let lease = self.held.insert(&reservation.claim, sent, options.lease);
                    running.spawn(Arc::clone(&self).attempt(
                        reservation,
                        lease,
                        hard_stop.clone(),
                        Some(slot),
                    ));
                }
                continue;
            }
            if options.stop_when_empty && running.is_empty() {
                return Exit::Empty;
            }
            let wait = reserved.next_due.unwrap_or(crate::queue::MAX_BLOCK);
            if wait.is_zero() {
                continue;
            }
            if options.stop_when_empty {
                // Nothing is ready but attempts still run: the worker may stop as soon as
                // the last one ends, which no wake-up token would announce. Waiting on
                // the attempts instead (a new job is seen within `wait`, at most a
                // second) keeps the stop from trailing the last job by a blocked wait.
                tokio::select! {
                    () = shutdown.cancelled() => {}
                    _ = running.join_next() => {}
                    () = tokio::time::sleep(wait.min(crate::queue::MAX_BLOCK)) => {}
                }
                continue;
            }
            tokio::select! {
                () = shutdown.cancelled() => {}
                woken = waker.wait(wait) => if let Err(error) = woken {
                    tracing::warn!(%error, "could not wait for work; retrying");
                    pause(shutdown, RETRY_MAX).await;
                }
            }
        }
    }

    /// Lets the running attempts finish: within the grace period on shutdown (then they
    /// are cancelled and handed back), to the end on any other stop unless a shutdown
    /// comes meanwhile.
    async fn drain(
        &self,
        exit: Exit,
        running: &mut JoinSet<Processed>,
        shutdown: &CancellationToken,
        hard_stop: &CancellationToken,
    ) {
        let grace = self.options.grace;
        let drained = async { while running.join_next().await.is_some() {} };
        tokio::pin!(drained);
        let in_time = if exit == Exit::Shutdown {
            tokio::time::timeout(grace, &mut drained).await.is_ok()
        } else {
            tokio::select! {
                () = &mut drained => true,
                () = shutdown.cancelled() => tokio::time::timeout(grace, &mut drained).await.is_ok(),
            }
        };
        if !in_time {
            tracing::info!("grace period over: handing back the running jobs");
            hard_stop.cancel();
            drained.await;
        }
    }

    fn reserve_request(&self, max: usize) -> ReserveRequest<'_> {
        ReserveRequest {
            queues: &self.options.queues,
            lease: self.options.lease,
            max,
        }
    }

    async fn reserve(&self, max: usize) -> Result<Vec<Reservation>, QueueError> {
        let reserved = self.queue.reserve(&self.reserve_request(max)).await?;
        self.emit_buried(&reserved.buried);
        Ok(reserved.jobs)
    }

    /// Events for the jobs a reserve's sweeps sent to the dead set.
    fn emit_buried(&self, buried: &[Buried]) {
        for job in buried {
            tracing::warn!(job_id = %job.job_id, reason = %job.reason, "job sent to the dead set");
            self.bus.emit(JobEvent {
                kind: EventKind::Dead,
                job_id: job.job_id.clone(),
                job_kind: None,
                attempt: 0,
                worker_id: self.id.clone(),
                detail: Some(job.reason.clone()),
                delay: None,
            });
        }
    }

    /// A job reserved after the worker was told to stop goes straight back.
    async fn hand_back_unstarted(&self, reservation: &Reservation) {
        if let Err(error) = self.queue.hand_back(&reservation.claim).await {
            tracing::warn!(job_id = %reservation.claim.job_id, %error, "could not hand back a job; its lease will lapse");
        }
    }

    /// One attempt, from reservation to committed outcome.
    async fn attempt(
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

/// Up to `want` of the free slots.
fn free_slots(slots: &Arc<Semaphore>, want: usize) -> Vec<OwnedSemaphorePermit> {
    let mut free = Vec::new();
    while free.len() < want {
        match Arc::clone(slots).try_acquire_owned() {
            Ok(permit) => free.push(permit),
            Err(_) => break,
        }
    }
    free
}

/// Runs a Redis step, retrying while Redis is unavailable, until it succeeds, is
/// refused, or `stop` fires (then the last error is returned).
async fn persist<T, F, Fut>(stop: &CancellationToken, mut step: F) -> Result<T, QueueError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, QueueError>>,
{
    let mut failures = 0;
    loop {
        match step().await {
            Err(error) if error.is_unavailable() && !stop.is_cancelled() => {
                failures += 1;
                tracing::warn!(%error, "Redis is unavailable; retrying");
                pause(stop, backoff(failures)).await;
            }
            other => return other,
        }
    }
}

/// Backoff between Redis retries: doubling from 50 ms to 1 s.
fn backoff(failures: u32) -> Duration {
    RETRY_FIRST
        .saturating_mul(1 << failures.min(5))
        .min(RETRY_MAX)
}

/// Sleeps, or less if `stop` fires.
async fn pause(stop: &CancellationToken, duration: Duration) {
    tokio::select! {
        () = stop.cancelled() => {}
        () = tokio::time::sleep(duration) => {}
    }
}
