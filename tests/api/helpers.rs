//! `spawn_app`: the real API on port 0 over a fresh database and a random Redis prefix,
//! with in-process report workers on demand and typed helpers to drive it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use quire::catalog::Catalog;
use quire::clock::Clock;
use quire::db::Db;
use quire::http::{self, AppState};
use quire::queue::{Queue, QueueConfig};
use quire::report::Reporter;
use quire::runs::{REPORT_JOB_KIND, REPORT_QUEUE, ReportHandler, Retention, Runs, RunsObserver};
use quire::settings::ReportsSource;
use quire::store::{NewApiKey, Run, Store};
use quire::worker::{Exit, Worker, WorkerOptions};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::common::TestDb;

pub const REDIS_URL: &str = "redis://127.0.0.1:6379";
/// The reports' `:today`, so presets resolve the same on any day.
pub const TODAY: &str = "2026-06-30";
const FIXTURE: &str = include_str!("../fixtures/golden.sql");

/// Which database a test app runs on.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A running API with its database, queue and storage folder.
pub struct TestApp {
    pub db: TestDb,
    pub runs: Runs,
    pub base_url: String,
    pub prefix: String,
    pub redis_url: String,
    /// An admin key and a key scoped to tenant `acme`.
    pub admin_key: String,
    pub acme_key: String,
    pub http: reqwest::Client,
    pub storage: tempfile::TempDir,
    shutdown: CancellationToken,
}

/// Definitions shipped in `reports/` plus `extra` `(file name, TOML)` pairs.
pub fn reports_dir_with(dir: &Path, extra: &[(&str, &str)]) -> PathBuf {
    let reports = dir.join("reports");
    std::fs::create_dir_all(&reports).unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("reports");
    for entry in std::fs::read_dir(shipped).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, reports.join(path.file_name().unwrap())).unwrap();
    }
    for (name, text) in extra {
        std::fs::write(reports.join(name), text).unwrap();
    }
    reports
}

/// Starts the API over the fixture data with the shipped reports plus `extra` ones.
pub async fn spawn_app(backend: Backend, extra_reports: &[(&str, &str)]) -> TestApp {
    spawn_app_on(REDIS_URL, backend, extra_reports).await
}

/// [`spawn_app`] with the queue on the Redis at `redis_url`.
pub async fn spawn_app_on(
    redis_url: &str,
    backend: Backend,
    extra_reports: &[(&str, &str)],
) -> TestApp {
    let db = match backend {
        Backend::Sqlite => TestDb::sqlite().await,
        Backend::Postgres => TestDb::postgres().await,
    };
    db.run_script(FIXTURE).await;
    let reports_dir = reports_dir_with(db.dir(), extra_reports);
    let catalog = Arc::new(Catalog::load(&ReportsSource::Dir(reports_dir.clone())).unwrap());
    let prefix = format!("test-{}", uuid::Uuid::now_v7().simple());
    let queue = Queue::connect(redis_url, &prefix, QueueConfig::default())
        .await
        .unwrap();
    let source = Db::connect_reports(&db.url, 4).await.unwrap();
    let storage = tempfile::tempdir().unwrap();
    let runs = Runs {
        store: Store::new(db.db.clone(), Clock::System),
        reporter: Reporter::new(catalog, source, Clock::fixed_on(TODAY.parse().unwrap())),
        queue,
        storage_dir: storage.path().to_owned(),
        retention: Retention::default(),
    };
    let admin_key = create_key(&runs, None).await;
    let acme_key = create_key(&runs, Some("acme")).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let state = AppState::new(runs.clone(), base_url.clone());
    let stop = shutdown.clone();
    tokio::spawn(async move {
        http::serve(listener, state, async move { stop.cancelled().await }).await
    });
    TestApp {
        db,
        runs,
        base_url,
        prefix,
        redis_url: redis_url.to_owned(),
        admin_key,
        acme_key,
        http: reqwest::Client::new(),
        storage,
        shutdown,
    }
}

async fn create_key(runs: &Runs, tenant: Option<&str>) -> String {
    let new = NewApiKey {
        tenant: tenant.map(str::to_owned),
        ..NewApiKey::default()
    };
    runs.store.create_api_key(&new).await.unwrap().1
}

/// Worker options for tests: the report queue, short lease.
pub fn worker_options() -> WorkerOptions {
    WorkerOptions {
        queues: vec![REPORT_QUEUE.to_owned()],
        lease: Duration::from_secs(3),
        grace: Duration::from_secs(5),
        ..WorkerOptions::default()
    }
}

impl TestApp {
    /// An in-process report worker until the app stops.
    pub fn start_worker(&self, options: WorkerOptions) -> JoinHandle<Exit> {
        let worker = Worker::builder(self.runs.queue.clone(), options)
            .handler(REPORT_JOB_KIND, ReportHandler::new(self.runs.clone()))
            .observer(RunsObserver::new(self.runs.clone()))
            .build();
        let stop = self.shutdown.clone();
        tokio::spawn(async move { worker.run(stop).await })
    }

    /// `POST /v1/reports` with `key`, `body` and an optional Idempotency-Key.
    pub async fn post_report(
        &self,
        key: &str,
        body: &Value,
        idempotency_key: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .post(format!("{}/v1/reports", self.base_url))
            .bearer_auth(key)
            .json(body);
        if let Some(idempotency_key) = idempotency_key {
            request = request.header("Idempotency-Key", idempotency_key);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `GET path` with `key`.
    pub async fn get(&self, key: &str, path: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.base_url))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The run `id` once it has finished (panics after `limit`).
    pub async fn finished_run(&self, id: &str, limit: Duration) -> Run {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let run = self
                .runs
                .store
                .run(id)
                .await
                .unwrap()
                .expect("the run exists");
            if run.status.is_finished() {
                return run;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "run {id} still {:?}",
                run.status
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every file under the storage folder.
    pub fn stored_files(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for folder in std::fs::read_dir(self.storage.path()).unwrap().flatten() {
            if let Ok(entries) = std::fs::read_dir(folder.path()) {
                files.extend(entries.flatten().map(|e| e.path()));
            }
        }
        files.sort();
        files
    }

    /// Deletes every Redis key of the app's prefix, as if Redis had lost its data.
    pub async fn forget_redis_keys(&self) {
        let client = redis::Client::open(self.redis_url.as_str()).unwrap();
        let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
            return;
        };
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{{{}}}*", self.prefix))
            .query_async(&mut conn)
            .await
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: () = redis::cmd("DEL")
                .arg(&keys)
                .query_async(&mut conn)
                .await
                .unwrap();
        }
    }

    /// Stops the API and workers, deletes the Redis keys and the database.
    pub async fn cleanup(self) {
        self.shutdown.cancel();
        self.forget_redis_keys().await;
    }
}

/// A request body for `report` of `acme` as CSV.
pub fn body(report: &str, params: Value) -> Value {
    serde_json::json!({ "tenant": "acme", "report": report, "format": "csv", "params": params })
}
