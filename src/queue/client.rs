//! [`Queue`]: the client of the scripts. Cheap to clone; all clones share one
//! multiplexed, self-reconnecting connection, so concurrent calls are pipelined.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use redis::{AsyncCommands as _, FromRedisValue, Script, ScriptInvocation};

use super::QueueError;
use super::connection::{Connection, RedisTarget};
use super::job::{
    Buried, Claim, Counts, DeathCause, Job, JobRecord, Loads, QueueLoad, Reservation, Reserved,
};
use super::keys::Keys;
use super::rate::RateLimit;
use super::scripts::Scripts;

/// Limits of the queue that do not belong to one job.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// How long a done job is kept, so that pushing its id again stays a no-op.
    pub done_retention: Duration,
    /// How long a dead job is kept before the reserve sweep deletes it.
    pub dead_retention: Duration,
    /// A job whose lease lapsed more often than this goes to the dead set.
    pub max_recoveries: u32,
    /// A job handed back by stopping workers more often than this goes to the dead set.
    pub max_handbacks: u32,
    /// At most this many jobs per sweep step of one reserve call, so one call never
    /// blocks Redis for long.
    pub sweep_limit: u32,
}

impl Default for QueueConfig {
    fn default() -> QueueConfig {
        QueueConfig {
            done_retention: Duration::from_secs(24 * 3600),
            dead_retention: Duration::from_secs(7 * 24 * 3600),
            max_recoveries: 3,
            max_handbacks: 10,
            sweep_limit: 100,
        }
    }
}

/// What one reserve call asks for.
#[derive(Debug, Clone)]
pub struct ReserveRequest<'a> {
    /// Queues to take from, highest priority first.
    pub queues: &'a [String],
    /// The lease each reservation starts with.
    pub lease: Duration,
    /// At most this many jobs (0 only runs the sweeps).
    pub max: usize,
}

/// The two locks a job may need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    /// Keyed by the job's `unique_key`.
    Unique,
    /// Keyed by the job's `overlap_key`.
    Overlap,
}

impl LockKind {
    /// The name used in keys and scripts.
    pub fn as_str(self) -> &'static str {
        match self {
            LockKind::Unique => "unique",
            LockKind::Overlap => "overlap",
        }
    }
}

/// The outcome of trying to take a lock for an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acquired {
    /// The attempt holds the lock until it ends.
    Yes,
    /// Another attempt holds it: the job is parked, no attempt consumed.
    Parked,
    /// The job waited longer than its `overlap_wait`: it is dead (`overlap_timeout`).
    TimedOut,
}

/// The outcome of a defer or a hand-back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deferred {
    /// The job waits again, no attempt consumed.
    Yes,
    /// It was handed back too often and is now dead.
    Buried,
}

/// One live worker, as registered by its heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerInfo {
    /// Unique per process start.
    pub id: String,
    /// Host name.
    pub host: String,
    /// Process id.
    pub pid: u32,
    /// The queues it takes jobs from.
    pub queues: Vec<String>,
    /// How many jobs it runs at once.
    pub concurrency: usize,
    /// When it started (ms since the epoch).
    pub started_ms: i64,
    /// Ids of the jobs it runs.
    pub jobs: Vec<String>,
    /// Its last heartbeat (ms since the epoch).
    pub heartbeat_ms: i64,
}

/// The queue under one prefix.
#[derive(Clone)]
pub struct Queue {
    target: RedisTarget,
    conn: Connection,
    keys: Keys,
    scripts: Arc<Scripts>,
    config: QueueConfig,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("base", &self.keys.base())
            .finish()
    }
}

/// Commands on the shared connection give up after this long, so a vanished Redis is
/// noticed; the longest script (a batched reserve) takes milliseconds.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);

impl Queue {
    /// Connects to `redis_url` (one server, or `redis+cluster://` seed nodes; `rediss`
    /// for TLS) for the keys under `prefix`.
    ///
    /// # Errors
    /// When the URL is invalid or Redis cannot be reached.
    pub async fn connect(
        redis_url: &str,
        prefix: &str,
        config: QueueConfig,
    ) -> Result<Queue, QueueError> {
        let target = RedisTarget::parse(redis_url)?;
        let conn = target.shared(RESPONSE_TIMEOUT).await?;
        Ok(Queue {
            target,
            conn,
            keys: Keys::new(prefix),
            scripts: Arc::new(Scripts::new()),
            config,
        })
    }

    /// The key names of this queue's prefix.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// A clone of the shared connection, for commands the queue does not wrap.
    pub fn connection(&self) -> Connection {
        self.conn.clone()
    }

    /// Runs `script` with the key base as KEYS[1] and ARGV[1], then what `args` adds.
    async fn invoke<T: FromRedisValue>(
        &self,
        script: &Script,
        args: impl FnOnce(&mut ScriptInvocation<'_>),
    ) -> Result<T, QueueError> {
        let mut invocation = script.key(self.keys.base());
        invocation.arg(self.keys.base());
        args(&mut invocation);
        self.run_script(&invocation).await
    }

    /// Runs `invocation` through [`Queue::on_connection`].
    async fn run_script<T: FromRedisValue>(
        &self,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<T, QueueError> {
        self.on_connection(|mut conn| async move { invocation.invoke_async(&mut conn).await })
            .await
    }

    /// Runs `pipe`, whose replies are all ignored, through [`Queue::on_connection`].
    async fn run_pipe(&self, pipe: &redis::Pipeline) -> Result<(), QueueError> {
        self.query_pipe(pipe).await
    }

    /// Runs `pipe` and reads its replies as `T`.
    async fn query_pipe<T: redis::FromRedisValue>(
        &self,
        pipe: &redis::Pipeline,
    ) -> Result<T, QueueError> {
        self.on_connection(|mut conn| async move { pipe.query_async::<T>(&mut conn).await })
            .await
    }

    /// Runs `command` on the shared connection, and once more when that connection
    /// had dropped (Redis restarted, or something between cut it): the manager
    /// reconnects on that error, so only a Redis that is really down fails the call.
    /// Sending a command twice is safe for everything the queue sends: pushes are
    /// idempotent by id, a script fenced by a claim refuses its second run, reads and
    /// registrations repeat harmlessly, and the jobs of a reserve whose reply was lost
    /// come back when their leases lapse.
    async fn on_connection<T, F, Fut>(&self, command: F) -> Result<T, QueueError>
    where
        F: Fn(Connection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        match command(self.conn.clone()).await {
            Err(error) if error.is_connection_dropped() => {
                tracing::debug!(%error, "the Redis connection had dropped; sending again");
                Ok(command(self.conn.clone()).await?)
            }
            other => Ok(other?),
        }
    }

    /// Pushes one job to be ready now. Returns whether it was added (`false`: a job
    /// with that id already exists, and nothing changed).
    ///
    /// # Errors
    /// An invalid job, or Redis failing.
    pub async fn push(&self, job: &Job) -> Result<bool, QueueError> {
        self.push_after(job, Duration::ZERO).await
    }

    /// Pushes one job that becomes ready after `delay`.
    ///
    /// # Errors
    /// An invalid job, or Redis failing.
    pub async fn push_after(&self, job: &Job, delay: Duration) -> Result<bool, QueueError> {
        let added = self.push_many(std::slice::from_ref(job), delay).await?;
        Ok(added[0])
    }

    /// Pushes many jobs in one script call; one flag per job, as for [`Queue::push`].
    ///
    /// # Errors
    /// An invalid job (then nothing is pushed), or Redis failing.
    pub async fn push_many(&self, jobs: &[Job], delay: Duration) -> Result<Vec<bool>, QueueError> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let mut invocation = self.scripts.push.key(self.keys.base());
        invocation.arg(self.keys.base()).arg(millis(delay));
        for job in jobs {
            job.validate()?;
            let spec = serde_json::to_string(job)
                .map_err(|error| QueueError::InvalidJob(format!("{}: {error}", job.id)))?;
            invocation
                .arg(&job.id)
                .arg(&job.queue)
                .arg(spec)
                .arg(job.max_attempts)
                .arg(job.unique_key.as_deref().unwrap_or(""))
                .arg(job.overlap_key.as_deref().unwrap_or(""))
                .arg(millis(job.overlap_wait))
                .arg(job.history.attempts)
                .arg(job.history.last_token)
                .arg(job.fairness_key.as_deref().unwrap_or(""))
                .arg(job.fairness_limit.unwrap_or(0));
        }
        let added: Vec<i64> = self.run_script(&invocation).await?;
        Ok(added.into_iter().map(|flag| flag == 1).collect())
    }

    /// Takes up to `request.max` jobs after promoting due delayed jobs, recovering lapsed
    /// leases and re-checking parked jobs (see `lua/reserve.lua`).
    ///
    /// # Errors
    /// Redis failing.
    pub async fn reserve(&self, request: &ReserveRequest<'_>) -> Result<Reserved, QueueError> {
        let mut invocation = self.scripts.reserve.key(self.keys.base());
        invocation
            .arg(self.keys.base())
            .arg(millis(request.lease))
            .arg(request.max)
            .arg(self.config.max_recoveries)
            .arg(millis(request.lease))
            .arg(self.config.sweep_limit)
            .arg(millis(self.config.dead_retention));
        for queue in request.queues {
            invocation.arg(queue);
        }
        let (_now, wait, restart, taken, buried): (i64, i64, i64, Vec<String>, Vec<String>) =
            self.run_script(&invocation).await?;
        let number = |text: &str| {
            text.parse::<u32>()
                .map_err(|_| QueueError::Reply(format!("{text:?} is not a count")))
        };
        let jobs = taken
            .chunks_exact(6)
            .map(|job| {
                Ok(Reservation {
                    claim: Claim {
                        job_id: job[0].clone(),
                        token: job[1].clone(),
                    },
                    attempt: number(&job[2])?,
                    recoveries: number(&job[3])?,
                    handbacks: number(&job[4])?,
                    spec: job[5].clone(),
                })
            })
            .collect::<Result<Vec<_>, QueueError>>()?;
        let buried = buried
            .chunks_exact(2)
            .map(|pair| Buried {
                job_id: pair[0].clone(),
                reason: pair[1].clone(),
            })
            .collect();
        Ok(Reserved {
            jobs,
            buried,
            next_due: u64::try_from(wait).ok().map(Duration::from_millis),
            restart_at: (restart >= 0).then_some(restart),
        })
    }

    /// Renews the leases of `claims` and the locks their attempts hold, in one call.
    /// Returns one flag per claim: `false` means that attempt lost its lease.
    ///
    /// # Errors
    /// Redis failing.
    pub async fn renew(&self, claims: &[Claim], lease: Duration) -> Result<Vec<bool>, QueueError> {
        if claims.is_empty() {
            return Ok(Vec::new());
        }
        let mut invocation = self.scripts.renew.key(self.keys.base());
        invocation.arg(self.keys.base()).arg(millis(lease));
        for claim in claims {
            invocation.arg(&claim.job_id).arg(&claim.token);
        }
        let flags: Vec<i64> = self.run_script(&invocation).await?;
        Ok(flags.into_iter().map(|flag| flag == 1).collect())
    }

    /// Marks the attempt's job done and releases its locks.
    ///
    /// # Errors
    /// [`QueueError::LeaseLost`] when the claim is stale; Redis failing.
    pub async fn ack(&self, claim: &Claim) -> Result<(), QueueError> {
        let acked = self.ack_many(std::slice::from_ref(claim)).await?;
        fenced(acked[0], claim)
    }

    /// Acks many attempts in one call; one flag per claim (`false`: stale claim).
    ///
    /// # Errors
    /// Redis failing.
    pub async fn ack_many(&self, claims: &[Claim]) -> Result<Vec<bool>, QueueError> {
        let mut invocation = self.scripts.ack.key(self.keys.base());
        invocation
            .arg(self.keys.base())
            .arg(millis(self.config.done_retention));
        for claim in claims {
            invocation.arg(&claim.job_id).arg(&claim.token);
        }
        let flags: Vec<i64> = self.run_script(&invocation).await?;
        Ok(flags.into_iter().map(|flag| flag == 1).collect())
    }

    /// Ends a failed attempt; the job runs again after `delay` (the attempt counts).
    ///
    /// # Errors
    /// [`QueueError::LeaseLost`] when the claim is stale; Redis failing.
    pub async fn retry(
        &self,
        claim: &Claim,
        delay: Duration,
        error: &str,
    ) -> Result<(), QueueError> {
        let done: i64 = self
            .invoke(&self.scripts.retry, |args| {
                args.arg(&claim.job_id)
                    .arg(&claim.token)
                    .arg(millis(delay))
                    .arg(error);
            })
            .await?;
        fenced(done == 1, claim)
    }

    /// Ends the attempt without consuming it; the job runs again after `delay`.
    ///
    /// # Errors
    /// [`QueueError::LeaseLost`] when the claim is stale; Redis failing.
    pub async fn defer(&self, claim: &Claim, delay: Duration) -> Result<(), QueueError> {
        self.defer_as(claim, delay, "defer").await.map(drop)
    }

    /// A stopping worker gives the job back: ready again at once, no attempt consumed,
    /// but counted; past the hand-back limit the job is dead instead.
    ///
    /// # Errors
    /// [`QueueError::LeaseLost`] when the claim is stale; Redis failing.
    pub async fn hand_back(&self, claim: &Claim) -> Result<Deferred, QueueError> {
        self.defer_as(claim, Duration::ZERO, "handback").await
    }

    async fn defer_as(
        &self,
        claim: &Claim,
        delay: Duration,
        mode: &str,
    ) -> Result<Deferred, QueueError> {
        let outcome: i64 = self
            .invoke(&self.scripts.defer, |args| {
                args.arg(&claim.job_id)
                    .arg(&claim.token)
                    .arg(millis(delay))
                    .arg(mode)
                    .arg(self.config.max_handbacks);
            })
            .await?;
        match outcome {
            1 => Ok(Deferred::Yes),
            2 => Ok(Deferred::Buried),
            _ => fenced(false, claim).map(|()| Deferred::Yes),
        }
    }

    /// Sends the attempt's job to the dead set with `reason`, recording its `cause`.
    ///
    /// # Errors
    /// [`QueueError::LeaseLost`] when the claim is stale; Redis failing.
    pub async fn fail(
        &self,
        claim: &Claim,
        cause: DeathCause,
        reason: &str,
    ) -> Result<(), QueueError> {
        let done: i64 = self
            .invoke(&self.scripts.fail, |args| {
                args.arg(&claim.job_id)
                    .arg(&claim.token)
                    .arg(reason)
                    .arg(cause.as_str());
            })
            .await?;
        fenced(done == 1, claim)
    }

    /// Takes lock `kind` for the attempt, or parks the job on it (see `lua/acquire.lua`).
    /// `lease` is the lock's TTL, renewed with the job's lease.
    ///
    /// # Errors
    /// [`QueueError::LeaseLost`] when the claim is stale; Redis failing.
    pub async fn acquire(
        &self,
        claim: &Claim,
        kind: LockKind,
        lease: Duration,
    ) -> Result<Acquired, QueueError> {
        let outcome: i64 = self
            .invoke(&self.scripts.acquire, |args| {
                args.arg(&claim.job_id)
                    .arg(&claim.token)
                    .arg(kind.as_str())
                    .arg(millis(lease))
                    .arg(millis(lease));
            })
            .await?;
        match outcome {
            1 => Ok(Acquired::Yes),
            2 => Ok(Acquired::Parked),
            3 => Ok(Acquired::TimedOut),
            _ => fenced(false, claim).map(|()| Acquired::Yes),
        }
    }

    /// Takes a token from the bucket `name` holding at most `limit.burst` tokens and
    /// refilled at `limit.per_second`: `None` when one was taken, else how long until
    /// one will be there. Buckets live under the prefix, shared by every process.
    ///
    /// # Errors
    /// Redis failing.
    pub async fn take_token(
        &self,
        name: &str,
        limit: RateLimit,
    ) -> Result<Option<Duration>, QueueError> {
        let wait_ms: u64 = self
            .invoke(&self.scripts.take_token, |args| {
                args.arg(name).arg(limit.burst).arg(limit.per_second);
            })
            .await?;
        Ok((wait_ms > 0).then(|| Duration::from_millis(wait_ms)))
    }

    /// One consistent snapshot of the job counts and counters.
    ///
    /// # Errors
    /// Redis failing.
    pub async fn counts(&self) -> Result<Counts, QueueError> {
        let (ready, delayed, reserved, parked, dead, stats): (
            u64,
            u64,
            u64,
            u64,
            u64,
            HashMap<String, u64>,
        ) = self.invoke(&self.scripts.counts, |_| {}).await?;
        Ok(Counts {
            ready,
            delayed,
            reserved,
            parked,
            dead,
            stats,
        })
    }

    /// What each queue holds ready, for the `top` fairness keys with the most, the
    /// attempts running per key, and the totals of the other states, in one script
    /// (see `lua/loads.lua`).
    ///
    /// # Errors
    /// Redis failing.
    pub async fn loads(&self, top: usize) -> Result<Loads, QueueError> {
        type Reply = (
            Vec<(String, u64, u64, Vec<(String, u64)>, bool, u64)>,
            Vec<(String, u64)>,
            (u64, u64, u64, u64),
        );
        let (queues, mut running, (delayed, reserved, parked, dead)): Reply = self
            .invoke(&self.scripts.loads, |args| {
                args.arg(top);
            })
            .await?;
        running.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(Loads {
            queues: queues
                .into_iter()
                .map(
                    |(queue, ready, keys_waiting, top, paused, running)| QueueLoad {
                        queue,
                        ready,
                        keys_waiting,
                        top,
                        paused,
                        running,
                    },
                )
                .collect(),
            running,
            delayed,
            reserved,
            parked,
            dead,
        })
    }

    /// A job's record, if it exists.
    ///
    /// # Errors
    /// Redis failing.
    pub async fn job(&self, id: &str) -> Result<Option<JobRecord>, QueueError> {
        let key = self.keys.job(id);
        let fields: HashMap<String, String> = self
            .on_connection(|mut conn| {
                let key = key.clone();
                async move { conn.hgetall(key).await }
            })
            .await?;
        Ok((!fields.is_empty()).then(|| JobRecord::from_fields(id, fields)))
    }

    /// Dead jobs, oldest first, at most `limit`.
    ///
    /// # Errors
    /// Redis failing.
    pub async fn dead_jobs(&self, limit: usize) -> Result<Vec<JobRecord>, QueueError> {
        let stop = isize::try_from(limit).unwrap_or(isize::MAX) - 1;
        let ids: Vec<String> = self
            .on_connection(|mut conn| async move { conn.zrange(self.keys.dead(), 0, stop).await })
            .await?;
        let mut records = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(record) = self.job(&id).await? {
                records.push(record);
            }
        }
        Ok(records)
    }

    /// Puts dead jobs back in their queues with their counters reset; one flag per id
    /// (`false`: the job was not dead, e.g. already retried).
    ///
    /// # Errors
    /// Redis failing.
    pub async fn revive(&self, ids: &[String]) -> Result<Vec<bool>, QueueError> {
        self.per_id(&self.scripts.revive, &["0"], ids).await
    }

    /// Puts jobs that ended, dead or done, back in their queues with their counters
    /// reset, for a caller that reopened the work they did (a retried run); one flag
    /// per id (`false`: the job is still queued or running, or unknown).
    ///
    /// # Errors
    /// Redis failing.
    pub async fn requeue_ended(&self, ids: &[String]) -> Result<Vec<bool>, QueueError> {
        self.per_id(&self.scripts.revive, &["1"], ids).await
    }

    /// Deletes dead jobs; one flag per id (`false`: the job was not dead).
    ///
    /// # Errors
    /// Redis failing.
    pub async fn forget(&self, ids: &[String]) -> Result<Vec<bool>, QueueError> {
        self.per_id(&self.scripts.forget, &[], ids).await
    }

    /// Runs `script` on `ids`, after the arguments in `leading`; one flag per id.
    async fn per_id(
        &self,
        script: &Script,
        leading: &[&str],
        ids: &[String],
    ) -> Result<Vec<bool>, QueueError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut invocation = script.key(self.keys.base());
        invocation.arg(self.keys.base()).arg(leading).arg(ids);
        let flags: Vec<i64> = self.run_script(&invocation).await?;
        Ok(flags.into_iter().map(|flag| flag == 1).collect())
    }

    /// Pauses reservation from `queue` (`paused`), or resumes it and wakes idle workers
    /// for its ready jobs. Pushes to a paused queue are taken; its jobs wait without
    /// spending attempts, and attempts already running go on. Returns whether the
    /// queue's state changed.
    ///
    /// # Errors
    /// Redis failing.
    pub async fn set_paused(&self, queue: &str, paused: bool) -> Result<bool, QueueError> {
        self.invoke(&self.scripts.pause, |args| {
            args.arg(queue).arg(if paused { "1" } else { "0" });
        })
        .await
    }

    /// Tells every worker started before now to finish its current jobs and exit.
    /// Returns the broadcast's Redis time (ms).
    ///
    /// # Errors
    /// Redis failing.
    pub async fn broadcast_restart(&self) -> Result<i64, QueueError> {
        self.invoke(&self.scripts.restart, |_| {}).await
    }

    /// Redis's clock (ms since the epoch): the one clock every worker agrees on.
    ///
    /// # Errors
    /// Redis failing.
    pub async fn redis_time_ms(&self) -> Result<i64, QueueError> {
        let time = redis::cmd("TIME");
        let (seconds, micros): (i64, i64) = self
            .on_connection(|mut conn| {
                let time = &time;
                async move { time.query_async(&mut conn).await }
            })
            .await?;
        Ok(seconds * 1000 + micros / 1000)
    }

    /// Registers or refreshes a worker; the entry vanishes `ttl` after the last refresh.
    ///
    /// # Errors
    /// Redis failing.
    pub async fn register_worker(
        &self,
        worker: &WorkerInfo,
        ttl: Duration,
    ) -> Result<(), QueueError> {
        let key = self.keys.worker(&worker.id);
        let mut pipe = redis::pipe();
        pipe.hset_multiple(
            &key,
            &[
                ("host", worker.host.clone()),
                ("pid", worker.pid.to_string()),
                ("queues", worker.queues.join(",")),
                ("concurrency", worker.concurrency.to_string()),
                ("started", worker.started_ms.to_string()),
                ("jobs", worker.jobs.join(",")),
                ("heartbeat", worker.heartbeat_ms.to_string()),
            ],
        )
        .ignore()
        .pexpire(&key, i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX))
        .ignore()
        .sadd(self.keys.workers(), &worker.id)
        .ignore();
        self.run_pipe(&pipe).await
    }

    /// Removes a worker's registry entry (on a clean exit).
    ///
    /// # Errors
    /// Redis failing.
    pub async fn deregister_worker(&self, id: &str) -> Result<(), QueueError> {
        let mut pipe = redis::pipe();
        pipe.del(self.keys.worker(id))
            .ignore()
            .srem(self.keys.workers(), id)
            .ignore();
        self.run_pipe(&pipe).await
    }

    /// The live workers; entries that expired are pruned from the id set on the way.
    ///
    /// # Errors
    /// Redis failing.
    pub async fn workers(&self) -> Result<Vec<WorkerInfo>, QueueError> {
        let mut conn = self.conn.clone();
        let ids: Vec<String> = conn.smembers(self.keys.workers()).await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // One round trip for every entry (on a cluster the entries share the prefix's
        // slot, so one pipeline still reaches one node).
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.hgetall(self.keys.worker(id));
        }
        let entries: Vec<HashMap<String, String>> = self.query_pipe(&pipe).await?;
        let mut workers = Vec::new();
        let mut gone = Vec::new();
        for (id, fields) in ids.into_iter().zip(entries) {
            if fields.is_empty() {
                gone.push(id);
                continue;
            }
            let number = |name: &str| fields.get(name).and_then(|v| v.parse().ok()).unwrap_or(0);
            let list = |name: &str| {
                fields
                    .get(name)
                    .map(|items| {
                        items
                            .split(',')
                            .filter(|item| !item.is_empty())
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default()
            };
            workers.push(WorkerInfo {
                host: fields.get("host").cloned().unwrap_or_default(),
                pid: u32::try_from(number("pid")).unwrap_or(0),
                queues: list("queues"),
                concurrency: usize::try_from(number("concurrency")).unwrap_or(0),
                started_ms: number("started"),
                jobs: list("jobs"),
                heartbeat_ms: number("heartbeat"),
                id,
            });
        }
        if !gone.is_empty() {
            let _: i64 = conn.srem(self.keys.workers(), &gone).await?;
        }
        Ok(workers)
    }

    /// A [`Waker`] for `queues`, on its own connection.
    pub fn waker(&self, queues: &[String]) -> Waker {
        Waker {
            target: self.target.clone(),
            conn: None,
            keys: queues.iter().map(|queue| self.keys.wake(queue)).collect(),
        }
    }
}

/// `Ok` when the script accepted the claim, else the typed lease-lost outcome.
fn fenced(accepted: bool, claim: &Claim) -> Result<(), QueueError> {
    if accepted {
        Ok(())
    } else {
        Err(QueueError::LeaseLost {
            job_id: claim.job_id.clone(),
        })
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The longest an idle worker blocks at once, so shutdown is never delayed by more.
pub const MAX_BLOCK: Duration = Duration::from_secs(1);

/// Idle workers block here until a push (or a lock release, or a promotion) leaves a
/// wake-up token. BLPOP holds its connection for the whole wait, so it gets a dedicated
/// connection whose response timeout outlasts the longest block.
pub struct Waker {
    target: RedisTarget,
    conn: Option<Connection>,
    keys: Vec<String>,
}

impl Waker {
    /// Blocks until a wake-up token arrives (`true`) or `timeout` passes (`false`);
    /// `timeout` is capped at one second.
    ///
    /// # Errors
    /// Redis failing; the connection is then rebuilt on the next call.
    pub async fn wait(&mut self, timeout: Duration) -> Result<bool, QueueError> {
        // BLPOP reads 0 as "forever"; the floor keeps every wait bounded.
        let seconds = timeout.min(MAX_BLOCK).as_secs_f64().max(0.001);
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => {
                let conn = self
                    .target
                    .dedicated(MAX_BLOCK + Duration::from_secs(2))
                    .await?;
                self.conn.insert(conn)
            }
        };
        let popped: Result<Option<(String, String)>, _> = redis::cmd("BLPOP")
            .arg(&self.keys)
            .arg(seconds)
            .query_async(conn)
            .await;
        match popped {
            Ok(token) => Ok(token.is_some()),
            Err(error) => {
                self.conn = None;
                Err(error.into())
            }
        }
    }
}
