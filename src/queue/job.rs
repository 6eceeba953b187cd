//! What the queue stores and hands out: the job as pushed, a reservation, the claim
//! that fences every transition, and snapshots for inspection.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::QueueError;

/// A job as pushed: the queue knows its locks and limits, never what its payload means.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Caller-chosen id; pushing an id that exists is a no-op.
    pub id: String,
    /// The queue it waits in.
    pub queue: String,
    /// Names the handler that runs it.
    pub kind: String,
    /// Opaque to the queue; the handler decodes it.
    pub payload: serde_json::Value,
    /// Two attempts with the same unique key never execute at the same time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_key: Option<String>,
    /// Without-overlapping scope: one attempt with this key executes at a time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap_key: Option<String>,
    /// Executions allowed before a transient failure becomes final.
    pub max_attempts: u32,
    /// How long one attempt may run; a timeout counts as an attempt.
    #[serde(with = "millis")]
    pub timeout: Duration,
    /// How long the job may wait for a lock before it fails with `overlap_timeout`.
    #[serde(with = "millis")]
    pub overlap_wait: Duration,
    /// Jobs of a queue with different fairness keys take turns to be reserved (FIFO
    /// within a key); jobs without one share the default key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fairness_key: Option<String>,
    /// The job starts only while fewer than this many attempts of its fairness key's
    /// limited jobs (those with a limit) run; a key at its limit waits without being
    /// charged an attempt. Jobs without a limit are never counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fairness_limit: Option<u32>,
    /// What earlier records of this job held; only read by the push.
    #[serde(skip)]
    pub history: JobHistory,
}

/// What a job's earlier records held, for a job pushed again after Redis lost them
/// (the caller keeps the truth elsewhere, in a database): the new record counts its
/// attempts on from `attempts`, and every fencing token issued after the push is
/// above `last_token`, so an attempt stalled since before the loss never shares its
/// token with a new one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobHistory {
    /// Attempts already made.
    pub attempts: u32,
    /// The highest fencing token an earlier attempt held (0: none).
    pub last_token: u64,
}

/// Durations travel as whole milliseconds.
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        value: &Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(u64::try_from(value.as_millis()).unwrap_or(u64::MAX))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_millis)
    }
}

impl Job {
    /// A job in queue `default` with 3 attempts, a 30-minute timeout and a 1-hour lock
    /// wait; adjust with the `with_*` methods.
    pub fn new(id: impl Into<String>, kind: impl Into<String>, payload: serde_json::Value) -> Job {
        Job {
            id: id.into(),
            queue: "default".into(),
            kind: kind.into(),
            payload,
            unique_key: None,
            overlap_key: None,
            max_attempts: 3,
            timeout: Duration::from_secs(30 * 60),
            overlap_wait: Duration::from_secs(60 * 60),
            fairness_key: None,
            fairness_limit: None,
            history: JobHistory::default(),
        }
    }

    /// The same job in another queue.
    pub fn with_queue(mut self, queue: impl Into<String>) -> Job {
        self.queue = queue.into();
        self
    }

    /// The same job with a unique-job lock key.
    pub fn with_unique_key(mut self, key: impl Into<String>) -> Job {
        self.unique_key = Some(key.into());
        self
    }

    /// The same job with a without-overlapping lock key.
    pub fn with_overlap_key(mut self, key: impl Into<String>) -> Job {
        self.overlap_key = Some(key.into());
        self
    }

    /// The same job with another attempt limit.
    pub fn with_max_attempts(mut self, max_attempts: u32) -> Job {
        self.max_attempts = max_attempts;
        self
    }

    /// The same job with another per-attempt timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Job {
        self.timeout = timeout;
        self
    }

    /// The same job with another lock wait.
    pub fn with_overlap_wait(mut self, wait: Duration) -> Job {
        self.overlap_wait = wait;
        self
    }

    /// The same job taking turns with the other fairness keys of its queue.
    pub fn with_fairness_key(mut self, key: impl Into<String>) -> Job {
        self.fairness_key = Some(key.into());
        self
    }

    /// The same job with a limit on the running attempts of its fairness key.
    pub fn with_fairness_limit(mut self, limit: u32) -> Job {
        self.fairness_limit = Some(limit);
        self
    }

    /// The same job, continuing from what its earlier records held.
    pub fn with_history(mut self, history: JobHistory) -> Job {
        self.history = history;
        self
    }

    /// Checks what the scripts rely on.
    ///
    /// # Errors
    /// [`QueueError::InvalidJob`] naming the bad field.
    pub fn validate(&self) -> Result<(), QueueError> {
        let invalid =
            |message: &str| Err(QueueError::InvalidJob(format!("{}: {message}", self.id)));
        if self.id.is_empty() {
            return Err(QueueError::InvalidJob("a job id must not be empty".into()));
        }
        if self.queue.is_empty() || self.queue.contains([',', ' ']) {
            return invalid("the queue name must be non-empty, without commas or spaces");
        }
        if self.kind.is_empty() {
            return invalid("the kind must not be empty");
        }
        if self.max_attempts == 0 {
            return invalid("max_attempts must be at least 1");
        }
        if self.unique_key.as_deref() == Some("") || self.overlap_key.as_deref() == Some("") {
            return invalid("a lock key must not be empty");
        }
        // The scripts build `fair:<queue>:<key>`: a key without ':' keeps it unambiguous.
        if self
            .fairness_key
            .as_deref()
            .is_some_and(|key| key.is_empty() || key.contains(':'))
        {
            return invalid("a fairness key must be non-empty, without ':'");
        }
        if self.fairness_limit == Some(0) {
            return invalid("a fairness limit must be at least 1");
        }
        if self.fairness_limit.is_some() && self.fairness_key.is_none() {
            return invalid("a fairness limit needs a fairness key");
        }
        Ok(())
    }
}

/// What fences a transition: the job and the token of the attempt that holds it. A
/// claim whose token is stale is refused by every script ([`QueueError::LeaseLost`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Claim {
    /// The job.
    pub job_id: String,
    /// The fencing token of this reservation; unique across the prefix, increasing.
    pub token: String,
}

/// One job taken by `reserve`.
#[derive(Debug, Clone)]
pub struct Reservation {
    /// Fences this attempt's transitions.
    pub claim: Claim,
    /// This attempt's number, from 1.
    pub attempt: u32,
    /// How often a lapsed lease sent the job back.
    pub recoveries: u32,
    /// How often stopping workers handed it back.
    pub handbacks: u32,
    /// The job as stored; [`Reservation::decode`] may fail for a poison job.
    pub spec: String,
}

impl Reservation {
    /// The job as pushed.
    ///
    /// # Errors
    /// When the stored spec is not a job: a poison job for the dead set.
    pub fn decode(&self) -> Result<Job, serde_json::Error> {
        serde_json::from_str(&self.spec)
    }
}

/// A job that a reserve call sent to the dead set (lost on its last attempt, recovered
/// too often, waited too long for a lock, or an id without a record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buried {
    /// The job.
    pub job_id: String,
    /// Why it is dead.
    pub reason: String,
}

/// The result of one reserve call.
#[derive(Debug, Clone)]
pub struct Reserved {
    /// The jobs taken, in queue priority order.
    pub jobs: Vec<Reservation>,
    /// Jobs this call's sweeps sent to the dead set.
    pub buried: Vec<Buried>,
    /// How long until something becomes due (a delayed job, a lease deadline, a parked
    /// job's re-check); `None` when nothing is pending.
    pub next_due: Option<Duration>,
    /// Redis time of the last restart broadcast, if any (ms since the epoch).
    pub restart_at: Option<i64>,
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Waiting in its queue's ready list.
    Ready,
    /// Waiting for its due time.
    Delayed,
    /// Held by a worker under a lease.
    Reserved,
    /// Waiting for a lock.
    Parked,
    /// In the dead set.
    Dead,
    /// Succeeded (kept for the done retention).
    Done,
}

/// What sent a job to the dead set, as the scripts record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeathCause {
    /// Its handler's error ended it: permanent, or the last attempt.
    Failed,
    /// Its last attempt ran past the job's timeout.
    TimedOut,
    /// Its worker was lost on its last attempt, or too many times.
    WorkerLost,
    /// It waited longer than its `overlap_wait` for a lock.
    OverlapTimeout,
    /// Stopping workers handed it back too many times.
    HandedBack,
    /// Its spec cannot be decoded.
    Undecodable,
    /// Its id was in a queue with no job record.
    Missing,
}

impl DeathCause {
    const ALL: [DeathCause; 7] = [
        DeathCause::Failed,
        DeathCause::TimedOut,
        DeathCause::WorkerLost,
        DeathCause::OverlapTimeout,
        DeathCause::HandedBack,
        DeathCause::Undecodable,
        DeathCause::Missing,
    ];

    /// The word the scripts store.
    pub fn as_str(self) -> &'static str {
        match self {
            DeathCause::Failed => "failed",
            DeathCause::TimedOut => "timed_out",
            DeathCause::WorkerLost => "worker_lost",
            DeathCause::OverlapTimeout => "overlap_timeout",
            DeathCause::HandedBack => "handed_back",
            DeathCause::Undecodable => "undecodable",
            DeathCause::Missing => "missing",
        }
    }

    fn parse(text: &str) -> Option<DeathCause> {
        DeathCause::ALL
            .into_iter()
            .find(|cause| cause.as_str() == text)
    }
}

impl JobState {
    fn parse(text: &str) -> Option<JobState> {
        Some(match text {
            "ready" => JobState::Ready,
            "delayed" => JobState::Delayed,
            "reserved" => JobState::Reserved,
            "parked" => JobState::Parked,
            "dead" => JobState::Dead,
            "done" => JobState::Done,
            _ => return None,
        })
    }
}

/// A job's record as stored, for inspection (`quire failed list`, tests, status).
#[derive(Debug, Clone)]
pub struct JobRecord {
    /// The job.
    pub id: String,
    /// Where it is; `None` for a record in no known state.
    pub state: Option<JobState>,
    /// Its queue.
    pub queue: String,
    /// Executions started.
    pub attempts: u32,
    /// Lapsed leases.
    pub recoveries: u32,
    /// Shutdown hand-backs.
    pub handbacks: u32,
    /// The last error, or why it is dead.
    pub error: Option<String>,
    /// For a dead job, what killed it (`None` for one buried before causes were kept).
    pub cause: Option<DeathCause>,
    /// The current attempt's fencing token.
    pub token: Option<String>,
    /// The stored spec (may be undecodable for a poison job).
    pub spec: String,
}

impl JobRecord {
    pub(crate) fn from_fields(id: &str, mut fields: HashMap<String, String>) -> JobRecord {
        let mut take = |name: &str| fields.remove(name).filter(|value| !value.is_empty());
        let number = |value: Option<String>| value.and_then(|v| v.parse().ok()).unwrap_or(0);
        JobRecord {
            id: id.to_owned(),
            state: take("state").as_deref().and_then(JobState::parse),
            queue: take("queue").unwrap_or_default(),
            attempts: number(take("attempts")),
            recoveries: number(take("recoveries")),
            handbacks: number(take("handbacks")),
            error: take("error"),
            cause: take("cause").as_deref().and_then(DeathCause::parse),
            token: take("token"),
            spec: take("spec").unwrap_or_default(),
        }
    }

    /// The job's kind, when its spec decodes.
    pub fn kind(&self) -> Option<String> {
        serde_json::from_str::<Job>(&self.spec)
            .ok()
            .map(|job| job.kind)
    }
}

/// One consistent snapshot of where the jobs are, plus the counters.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    /// In ready lists (all queues).
    pub ready: u64,
    /// Waiting for their due time.
    pub delayed: u64,
    /// Held under a lease.
    pub reserved: u64,
    /// Waiting for a lock.
    pub parked: u64,
    /// In the dead set.
    pub dead: u64,
    /// Counters since the prefix was created: `pushed`, `reserved`, `done`, `retried`,
    /// `deferred`, `handed_back`, `parked`, `woken`, `recovered`, `dead`,
    /// `locks_acquired`, `locks_released`, `revived`.
    pub stats: HashMap<String, u64>,
}

/// What one queue holds ready, and for which fairness keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueLoad {
    /// The queue.
    pub queue: String,
    /// Ready jobs in it.
    pub ready: u64,
    /// Fairness keys with ready jobs in it (those at their running limit included).
    pub keys_waiting: u64,
    /// The keys with the most ready jobs, most first, with their counts; the default
    /// key is `""`.
    pub top: Vec<(String, u64)>,
    /// Whether reservation from it is paused.
    pub paused: bool,
    /// Its jobs held under a lease.
    pub running: u64,
}

/// The queues' loads and the attempts running per fairness key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loads {
    /// Every queue ever pushed to, by name.
    pub queues: Vec<QueueLoad>,
    /// Running attempts per fairness key (jobs without one are not counted), most
    /// first.
    pub running: Vec<(String, u64)>,
    /// Jobs waiting for their due time, in all queues.
    pub delayed: u64,
    /// Jobs held under a lease, in all queues.
    pub reserved: u64,
    /// Jobs waiting for a lock, in all queues.
    pub parked: u64,
    /// Jobs in the dead set.
    pub dead: u64,
}

impl Counts {
    /// A counter, 0 when it never moved.
    pub fn stat(&self, name: &str) -> u64 {
        self.stats.get(name).copied().unwrap_or(0)
    }

    /// Jobs that succeeded.
    pub fn done(&self) -> u64 {
        self.stat("done")
    }
}
