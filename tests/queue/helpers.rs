//! Shared helpers: a fresh prefix per test, in-process and real-process workers, the
//! noop handler's execution records, a test-owned redis-server, and waiting on
//! observable conditions with a deadline (never sleeping and hoping).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use quire::bench::{NOOP_KIND, NoopHandler};
use quire::queue::{Backoff, Job, Queue, QueueConfig};
use quire::worker::{
    Exit, JobEvent, Observer, ObserverError, Worker, WorkerBuilder, WorkerOptions,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub(crate) use crate::common::{RedisServer, eventually, wait_until};

/// A queue under a random prefix; its keys are deleted when it is dropped.
pub(crate) struct TestQueue {
    pub queue: Queue,
    pub prefix: String,
    pub url: String,
    pub dir: tempfile::TempDir,
}

impl TestQueue {
    /// A fresh prefix on the test binary's shared Redis: the development server, or a
    /// cluster of the binary's own (see `tests/cluster.rs`).
    pub(crate) async fn new() -> TestQueue {
        TestQueue::on(&crate::redis_url()).await
    }

    /// A fresh prefix on the Redis at `url`.
    pub(crate) async fn on(url: &str) -> TestQueue {
        let prefix = format!("test-{}", uuid::Uuid::now_v7().simple());
        let queue = Queue::connect(url, &prefix, QueueConfig::default())
            .await
            .expect("Redis is reachable");
        TestQueue {
            queue,
            prefix,
            url: url.to_owned(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A file for noop records.
    pub(crate) fn record_file(&self) -> PathBuf {
        self.dir.path().join("records.txt")
    }

    /// A noop job that sleeps `sleep_ms` (by attempt) and records to the test's file.
    pub(crate) fn noop(&self, id: &str, sleep_ms: &[u64]) -> Job {
        Job::new(
            id,
            NOOP_KIND,
            serde_json::json!({ "sleep_ms": sleep_ms, "record": self.record_file() }),
        )
    }

    /// The noop records so far.
    pub(crate) fn records(&self) -> Vec<Record> {
        read_records(&self.record_file())
    }

    /// An in-process worker builder with the noop handler.
    pub(crate) fn worker(&self, options: WorkerOptions) -> WorkerBuilder {
        Worker::builder(self.queue.clone(), options).handler(NOOP_KIND, NoopHandler)
    }

    /// A real worker process on this prefix: `quire bench worker`, the worker loop of
    /// `quire work` serving the noop jobs.
    pub(crate) fn spawn_process(&self, args: &[&str]) -> tokio::process::Child {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_quire"))
            .args(["bench", "worker"])
            .args(args)
            .env("REDIS_URL", &self.url)
            .env("QUIRE_PREFIX", &self.prefix)
            .env("QUIRE_LOG", "info,quire=debug")
            .env_remove("QUIRE_CONFIG")
            .current_dir(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(
                    self.dir
                        .path()
                        .join(format!("worker-{}.log", uuid::Uuid::now_v7().simple())),
                )
                .unwrap(),
            ))
            .kill_on_drop(true)
            .spawn()
            .expect("the quire binary starts")
    }

    /// Runs `quire ARGS` to completion on this prefix; returns (exit code, stdout).
    pub(crate) async fn quire(&self, args: &[&str]) -> (i32, String) {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_quire"))
            .args(args)
            .env("REDIS_URL", &self.url)
            .env("QUIRE_PREFIX", &self.prefix)
            .env_remove("QUIRE_CONFIG")
            .current_dir(self.dir.path())
            .output()
            .await
            .unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    }
}

impl Drop for TestQueue {
    fn drop(&mut self) {
        crate::common::delete_prefix(&self.url, &self.prefix);
    }
}

/// Worker options for tests: short lease, fast backoff.
pub(crate) fn options(lease_ms: u64) -> WorkerOptions {
    WorkerOptions {
        lease: Duration::from_millis(lease_ms),
        grace: Duration::from_secs(5),
        backoff: Backoff {
            base: Duration::from_millis(20),
            cap: Duration::from_millis(200),
        },
        observer_timeout: Duration::from_millis(200),
        ..WorkerOptions::default()
    }
}

/// A worker running on its own task, stopped through its token.
pub(crate) struct Running {
    pub shutdown: CancellationToken,
    pub handle: JoinHandle<Exit>,
}

impl Running {
    /// Starts `worker.run`.
    pub(crate) fn start(worker: Worker) -> Running {
        let shutdown = CancellationToken::new();
        let handle = tokio::spawn(worker.run(shutdown.clone()));
        Running { shutdown, handle }
    }

    /// Signals shutdown and waits for the exit.
    pub(crate) async fn stop(self) -> Exit {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(20), self.handle)
            .await
            .expect("the worker stops")
            .expect("the worker does not panic")
    }
}

/// One line of a noop record file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    /// `start`, `end` or `cancelled`.
    pub word: String,
    pub job: String,
    pub attempt: u32,
    pub pid: u32,
    pub start_ms: i64,
    /// For `end` and `cancelled`.
    pub end_ms: Option<i64>,
}

/// Parses a noop record file (missing: no records).
pub(crate) fn read_records(path: &Path) -> Vec<Record> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            Record {
                word: fields[0].to_owned(),
                job: fields[1].to_owned(),
                attempt: fields[2].parse().unwrap(),
                pid: fields[3].parse().unwrap(),
                start_ms: fields[4].parse().unwrap(),
                end_ms: fields.get(5).map(|end| end.parse().unwrap()),
            }
        })
        .collect()
}

/// Records of finished executions (`end`) of `job`.
pub(crate) fn completed<'a>(records: &'a [Record], job: &str) -> Vec<&'a Record> {
    records
        .iter()
        .filter(|r| r.word == "end" && r.job == job)
        .collect()
}

/// Asserts that no two finished-or-cancelled executions overlap in time.
pub(crate) fn assert_never_concurrent(records: &[Record]) {
    let mut spans: Vec<(i64, i64, &str)> = records
        .iter()
        .filter_map(|r| r.end_ms.map(|end| (r.start_ms, end, r.job.as_str())))
        .collect();
    spans.sort();
    for pair in spans.windows(2) {
        assert!(
            pair[0].1 <= pair[1].0,
            "{} ran from {} to {} while {} started at {}",
            pair[0].2,
            pair[0].0,
            pair[0].1,
            pair[1].2,
            pair[1].0
        );
    }
}

/// An observer keeping every event.
#[derive(Clone, Default)]
pub(crate) struct EventLog {
    pub events: Arc<Mutex<Vec<JobEvent>>>,
}

impl EventLog {
    /// The events so far.
    pub(crate) fn all(&self) -> Vec<JobEvent> {
        self.events.lock().unwrap().clone()
    }
}

impl Observer for EventLog {
    async fn observe(&self, event: &JobEvent) -> Result<(), ObserverError> {
        self.events.lock().unwrap().push(event.clone());
        Ok(())
    }
}

/// Sends a signal to a child process by pid.
pub(crate) fn signal(child: &tokio::process::Child, name: &str) {
    let pid = child.id().expect("the child is running");
    let status = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} {pid}");
}

/// Waits for a child's exit code, at most `limit`.
pub(crate) async fn exit_code(child: &mut tokio::process::Child, limit: Duration) -> i32 {
    let status = tokio::time::timeout(limit, child.wait())
        .await
        .expect("the process exits in time")
        .unwrap();
    status.code().unwrap_or(-1)
}
