//! The worker: reserves jobs while slots are free and runs each attempt (see
//! `attempt.rs`) in a task it owns, then drains. [`Worker::process_one`] runs one job
//! alone; [`Worker::run`] is the loop on top.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use super::acks::Acker;
use super::attempt::Processed;
use super::events::{Dispatchers, EventBus, EventKind, JobEvent};
use super::handler::Handlers;
use super::heartbeat::{self, Held};
use super::middleware::Middleware;
use super::options::{Exit, WorkerOptions};
use super::retry::{Outage, RETRY_MAX, backoff, pause, persist};
use crate::queue::{Buried, Queue, QueueError, Reservation, ReserveRequest, WorkerInfo};

/// What every attempt of a worker shares.
pub(super) struct Shared {
    pub(super) queue: Queue,
    /// Acks go through the batcher, so that many finished attempts share one call.
    pub(super) acks: Acker,
    pub(super) options: WorkerOptions,
    pub(super) handlers: Handlers,
    pub(super) middleware: Vec<Arc<dyn Middleware>>,
    pub(super) bus: EventBus,
    pub(super) held: Arc<Held>,
    pub(super) id: String,
    pub(super) host: String,
}

/// A worker process's runtime (several may share a process, as tests do).
pub struct Worker {
    pub(super) shared: Arc<Shared>,
    pub(super) dispatchers: Dispatchers,
}

impl Worker {
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

impl Shared {
    /// The worker's life after start-up: heartbeat and registry, the reserve loop, the
    /// drain.
    async fn serve(self: Arc<Self>, started_ms: i64, shutdown: &CancellationToken) -> Exit {
        let stop_heartbeat = CancellationToken::new();
        let registry = WorkerInfo {
            id: self.id.clone(),
            host: self.host.clone(),
            pid: std::process::id(),
            queues: self.options.queues.clone(),
            concurrency: self.options.concurrency,
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
        let mut outage = Outage::new("reserving jobs");
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
                    outage.over();
                    reserved
                }
                Err(error) => {
                    let failures = outage.failed(&error);
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
                    // The reserve that follows meets the same outage and logs it.
                    tracing::debug!(%error, "could not wait for work; retrying");
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
