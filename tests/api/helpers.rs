//! `spawn_app`: the real API on port 0 over a fresh database and a random Redis prefix,
//! with in-process report workers on demand, real `quire` processes sharing the app's
//! database, prefix, reports and storage, and typed helpers to drive them.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use quire::app::App;
use quire::catalog::Catalog;
use quire::clock::Clock;
use quire::db::Db;
use quire::queue::{Queue, QueueConfig};
use quire::report::Reporter;
use quire::runs::{REPORT_QUEUE, Retention, Runs};
use quire::settings::ReportsSource;
use quire::storage::Storage;
use quire::store::{NewApiKey, Run, Store};
use quire::worker::{Exit, WorkerOptions};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub(crate) use crate::common::Backend;
pub(crate) use crate::common::free_port;
use crate::common::{TestDb, eventually};

/// The reports' `:today`, so presets resolve the same on any day.
pub(crate) const TODAY: &str = "2026-06-30";
const FIXTURE: &str = include_str!("../fixtures/golden.sql");

/// A running API with its database, queue and storage folder.
pub(crate) struct TestApp {
    pub db: TestDb,
    /// The app as production composes it; its workers run its loops too.
    pub app: App,
    pub runs: Runs,
    /// A store over [`TestApp::db`] itself, which tests read runs through: the app's
    /// own store may reach the database through a proxy that a test cuts.
    observer: Store,
    pub base_url: String,
    pub prefix: String,
    pub redis_url: String,
    /// An admin key and a key scoped to tenant `acme`.
    pub admin_key: String,
    pub acme_key: String,
    pub http: reqwest::Client,
    pub storage: tempfile::TempDir,
    pub reports_dir: PathBuf,
    /// `REPORTS_DATABASE_URL` of the processes [`TestApp::quire`] starts; `None`: the
    /// app's own database.
    pub reports_url: Option<String>,
    /// The report database, when it is not the app's own.
    pub reports_db: Option<TestDb>,
    /// More environment of the processes [`TestApp::quire`] starts.
    pub env: Vec<(String, String)>,
    shutdown: CancellationToken,
    /// Every in-process worker holds a clone; once all are dropped, `workers_stopped`
    /// yields `None` (mini-redis's shutdown-complete channel).
    workers_alive: mpsc::Sender<()>,
    workers_stopped: mpsc::Receiver<()>,
}

/// Definitions shipped in `reports/` plus `extra` `(file name, TOML)` pairs.
pub(crate) fn reports_dir_with(dir: &Path, extra: &[(&str, &str)]) -> PathBuf {
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
pub(crate) async fn spawn_app(backend: Backend, extra_reports: &[(&str, &str)]) -> TestApp {
    spawn_app_on(&crate::redis_url(), backend, extra_reports).await
}

/// [`spawn_app`] with the queue on the Redis at `redis_url`.
pub(crate) async fn spawn_app_on(
    redis_url: &str,
    backend: Backend,
    extra_reports: &[(&str, &str)],
) -> TestApp {
    spawn(redis_url, backend, None, None, &folder, extra_reports).await
}

/// The storage of an app that keeps its files in its storage folder, as by default.
fn folder(dir: &Path) -> Storage {
    Storage::Folder(dir.to_owned())
}

/// [`spawn_app`] storing its files in the storage `storage` makes of its storage
/// folder (a bucket, with the folder as its scratch folder).
pub(crate) async fn spawn_app_storing_in(
    backend: Backend,
    storage: impl Fn(&Path) -> Storage,
    extra_reports: &[(&str, &str)],
) -> TestApp {
    spawn(
        &crate::redis_url(),
        backend,
        None,
        None,
        &storage,
        extra_reports,
    )
    .await
}

/// [`spawn_app`] whose store reaches its database through `store_url` (a proxy, say),
/// while [`TestApp::db`] stays a direct connection to observe it by.
pub(crate) async fn spawn_app_storing_through(
    backend: Backend,
    store_url: impl Fn(&TestDb) -> String,
    extra_reports: &[(&str, &str)],
) -> TestApp {
    spawn(
        &crate::redis_url(),
        backend,
        Some(&store_url),
        None,
        &folder,
        extra_reports,
    )
    .await
}

/// [`spawn_app`] whose store and report source both reach the database through
/// `url` (a proxy, say), while [`TestApp::db`] stays a direct connection.
pub(crate) async fn spawn_app_through(
    backend: Backend,
    url: impl Fn(&TestDb) -> String,
    extra_reports: &[(&str, &str)],
) -> TestApp {
    let db = TestDb::new(backend).await;
    db.load_fixture(FIXTURE).await;
    let source_url = url(&db);
    spawn_on(
        &crate::redis_url(),
        db,
        Some(&url),
        (None, source_url),
        &folder,
        extra_reports,
    )
    .await
}

/// [`spawn_app`] reading reports from `reports` (loaded with the fixture data here)
/// through `reports_url`, a URL of that database, instead of from its own database.
pub(crate) async fn spawn_app_reading(
    backend: Backend,
    reports: TestDb,
    reports_url: &str,
    extra_reports: &[(&str, &str)],
) -> TestApp {
    reports.load_fixture(FIXTURE).await;
    let mut app = spawn(
        &crate::redis_url(),
        backend,
        None,
        Some((reports, reports_url)),
        &folder,
        extra_reports,
    )
    .await;
    app.reports_url = Some(reports_url.to_owned());
    app
}

async fn spawn(
    redis_url: &str,
    backend: Backend,
    store_url: Option<&dyn Fn(&TestDb) -> String>,
    reports: Option<(TestDb, &str)>,
    storage: &dyn Fn(&Path) -> Storage,
    extra_reports: &[(&str, &str)],
) -> TestApp {
    let db = TestDb::new(backend).await;
    let source = match reports {
        Some((reports, url)) => (Some(reports), url.to_owned()),
        None => {
            db.load_fixture(FIXTURE).await;
            (None, db.url.clone())
        }
    };
    spawn_on(redis_url, db, store_url, source, storage, extra_reports).await
}

/// The app over `db`, reading reports at `source` (with the database holding them
/// when it is another one).
async fn spawn_on(
    redis_url: &str,
    db: TestDb,
    store_url: Option<&dyn Fn(&TestDb) -> String>,
    (reports_db, source_url): (Option<TestDb>, String),
    storage: &dyn Fn(&Path) -> Storage,
    extra_reports: &[(&str, &str)],
) -> TestApp {
    let reports_dir = reports_dir_with(db.dir(), extra_reports);
    let catalog = Arc::new(Catalog::load(&ReportsSource::Dir(reports_dir.clone())).unwrap());
    let prefix = format!("test-{}", uuid::Uuid::now_v7().simple());
    let queue = Queue::connect(redis_url, &prefix, QueueConfig::default())
        .await
        .unwrap();
    let source = Db::connect_reports(&source_url, 4).await.unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let store_db = match store_url {
        Some(url) => Db::connect(&url(&db), 4).await.unwrap(),
        None => db.db.clone(),
    };
    let runs = Runs {
        store: Store::new(store_db, Clock::System),
        reporter: Reporter::new(catalog, source, Clock::fixed_on(TODAY.parse().unwrap())),
        queue,
        storage: storage(scratch.path()),
        retention: Retention::default(),
        max_queued_per_tenant: quire::runs::DEFAULT_MAX_QUEUED_PER_TENANT,
        scheduling: quire::runs::Scheduling::default(),
    };
    let admin_key = create_key(&runs, None).await;
    let acme_key = create_key(&runs, Some("acme")).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let (workers_alive, workers_stopped) = mpsc::channel(1);
    let app = App::new(runs.clone(), base_url.clone());
    let (api, stop) = (app.clone(), shutdown.clone());
    tokio::spawn(async move { api.serve(listener, stop).await });
    TestApp {
        observer: Store::new(db.db.clone(), Clock::System),
        db,
        app,
        runs,
        base_url,
        prefix,
        redis_url: redis_url.to_owned(),
        admin_key,
        acme_key,
        http: quire::tls::default_client(),
        storage: scratch,
        reports_dir,
        reports_url: None,
        reports_db,
        env: Vec::new(),
        shutdown,
        workers_alive,
        workers_stopped,
    }
}

async fn create_key(runs: &Runs, tenant: Option<&str>) -> String {
    let new = NewApiKey {
        tenant: tenant.map(str::to_owned),
        ..NewApiKey::default()
    };
    runs.store.create_api_key(&new).await.unwrap().1
}

/// A `quire` child process; killed when dropped.
pub(crate) struct QuireProcess {
    pub child: tokio::process::Child,
    /// Where `quire serve` and `quire run` listen.
    pub base_url: String,
    log: PathBuf,
}

impl QuireProcess {
    /// What the process has logged so far, for failure messages.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: the process gets no chance to clean up.
    pub(crate) async fn kill(&mut self) {
        self.child.kill().await.unwrap();
    }

    /// Sends `signal` (`STOP`, `CONT`, `TERM`…) to the process.
    pub(crate) fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("the process is running");
        let sent = std::process::Command::new("kill")
            .args([format!("-{signal}"), pid.to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{signal} {pid}");
    }

    /// SIGTERM, then its exit code (a graceful stop is 0).
    pub(crate) async fn terminate(&mut self) -> i32 {
        self.signal("TERM");
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("quire did not stop on SIGTERM:\n{}", self.log()))
            .unwrap();
        status.code().unwrap_or(-1)
    }
}

/// Where a `quire` process runs as on a host of its own: its working folder (also its
/// TMPDIR), the address it listens on, the command that starts it there, and the
/// environment that differs there (services reached at other addresses).
pub(crate) struct Host {
    pub dir: PathBuf,
    pub address: std::net::IpAddr,
    pub launcher: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl Host {
    /// A folder of its own on this machine's network.
    pub(crate) fn local(dir: &Path) -> Host {
        Host {
            dir: dir.to_owned(),
            address: std::net::Ipv4Addr::LOCALHOST.into(),
            launcher: Vec::new(),
            env: Vec::new(),
        }
    }
}

/// Worker options for tests: the report queue, short lease.
pub(crate) fn worker_options() -> WorkerOptions {
    WorkerOptions {
        queues: vec![REPORT_QUEUE.to_owned()],
        lease: Duration::from_secs(3),
        grace: Duration::from_secs(5),
        ..WorkerOptions::default()
    }
}

impl TestApp {
    /// `quire ARGS` on this app's database, Redis prefix, reports and storage folders,
    /// with the system clock (processes cannot share the app's fixed one).
    pub(crate) fn quire(&self, args: &[&str]) -> tokio::process::Command {
        self.quire_through(&[], args)
    }

    /// [`TestApp::quire`] started by the command `launcher` (`ip netns exec NAME`, say)
    /// when it is not empty.
    fn quire_through(&self, launcher: &[String], args: &[&str]) -> tokio::process::Command {
        let quire = env!("CARGO_BIN_EXE_quire");
        let mut command = match launcher.split_first() {
            None => tokio::process::Command::new(quire),
            Some((program, launcher_args)) => {
                let mut command = tokio::process::Command::new(program);
                command.args(launcher_args).arg(quire);
                command
            }
        };
        command
            .args(args)
            .env("DATABASE_URL", &self.db.url)
            .env(
                "REPORTS_DATABASE_URL",
                self.reports_url.as_deref().unwrap_or(&self.db.url),
            )
            .env("REDIS_URL", &self.redis_url)
            .env("QUIRE_PREFIX", &self.prefix)
            .env("QUIRE_REPORTS_DIR", &self.reports_dir)
            .env("QUIRE_STORAGE_DIR", self.storage.path())
            .env("QUIRE_LOG", "info,quire=debug")
            .env_remove("QUIRE_CONFIG")
            .envs(self.env.iter().map(|(name, value)| (name, value)))
            .current_dir(self.db.dir())
            .kill_on_drop(true);
        command
    }

    /// Starts `quire ARGS` in the background on a free port, its log in the app's
    /// scratch folder.
    pub(crate) fn spawn_quire(&self, args: &[&str]) -> QuireProcess {
        self.spawn_quire_in(args, self.db.dir())
    }

    /// [`TestApp::spawn_quire`] working in `dir` (its folder and its TMPDIR), as a
    /// process on a host of its own would; its log is kept there.
    pub(crate) fn spawn_quire_in(&self, args: &[&str], dir: &Path) -> QuireProcess {
        self.spawn_quire_on(&Host::local(dir), args)
    }

    /// [`TestApp::spawn_quire`] on `host`.
    pub(crate) fn spawn_quire_on(&self, host: &Host, args: &[&str]) -> QuireProcess {
        let port = free_port();
        let log = host
            .dir
            .join(format!("quire-{}.log", uuid::Uuid::now_v7().simple()));
        let bind = std::net::SocketAddr::new(host.address, port);
        let child = self
            .quire_through(&host.launcher, args)
            .current_dir(&host.dir)
            .env("TMPDIR", &host.dir)
            .env("QUIRE_BIND", bind.to_string())
            .envs(host.env.iter().map(|(name, value)| (name, value)))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("the quire binary starts");
        QuireProcess {
            child,
            base_url: format!("http://{bind}"),
            log,
        }
    }

    /// Starts `quire serve` or `quire run ARGS` on a free port and waits until its
    /// `/readyz` answers 200.
    pub(crate) async fn spawn_server(&self, args: &[&str]) -> QuireProcess {
        self.spawn_server_in(args, self.db.dir()).await
    }

    /// [`TestApp::spawn_server`] working in `dir` (see [`TestApp::spawn_quire_in`]).
    pub(crate) async fn spawn_server_in(&self, args: &[&str], dir: &Path) -> QuireProcess {
        self.spawn_server_on(&Host::local(dir), args).await
    }

    /// [`TestApp::spawn_server`] on `host`.
    pub(crate) async fn spawn_server_on(&self, host: &Host, args: &[&str]) -> QuireProcess {
        let mut server = self.spawn_quire_on(host, args);
        let readyz = format!("{}/readyz", server.base_url);
        eventually(Duration::from_secs(30), "the server is ready", || {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("quire {args:?} exited with {status}:\n{}", server.log());
            }
            let request = self.http.get(&readyz).send();
            async move {
                request
                    .await
                    .is_ok_and(|r| r.status() == StatusCode::OK)
                    .then_some(())
            }
        })
        .await;
        server
    }

    /// An in-process worker as `quire work` runs it (report handler, observer, sweep,
    /// webhook sender), until [`TestWorker::stop`] or the app stops.
    pub(crate) fn start_worker(&self, options: WorkerOptions) -> TestWorker {
        let stop = self.shutdown.child_token();
        let (app, alive, shutdown) = (self.app.clone(), self.workers_alive.clone(), stop.clone());
        let task = tokio::spawn(async move {
            let exit = app.work(options, shutdown).await;
            drop(alive);
            exit
        });
        TestWorker { stop, task }
    }

    /// `POST /v1/reports` with `key`, `body` and an optional Idempotency-Key.
    pub(crate) async fn post_report(
        &self,
        key: &str,
        body: &Value,
        idempotency_key: Option<&str>,
    ) -> (StatusCode, Value) {
        self.post_report_to(&self.base_url, key, body, idempotency_key)
            .await
    }

    /// `POST /v1/reports` to the API at `base_url` (another process's, say).
    pub(crate) async fn post_report_to(
        &self,
        base_url: &str,
        key: &str,
        body: &Value,
        idempotency_key: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .post(format!("{base_url}/v1/reports"))
            .bearer_auth(key)
            .json(body);
        if let Some(idempotency_key) = idempotency_key {
            request = request.header("Idempotency-Key", idempotency_key);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Posts a run of `report` for acme to the `quire serve`/`run` process `server` and
    /// waits until it completed; returns it.
    pub(crate) async fn completed_through(
        &self,
        server: &QuireProcess,
        report: &str,
        limit: Duration,
    ) -> Run {
        let request = body(report, serde_json::json!({}));
        let (status, answer) = self
            .post_report_to(&server.base_url, &self.acme_key, &request, None)
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
        let run = self
            .finished_run(answer["id"].as_str().unwrap(), limit)
            .await;
        assert_eq!(
            run.status,
            quire::store::RunStatus::Completed,
            "{:?}\n{}",
            run.error,
            server.log()
        );
        run
    }

    /// `method url` with `key`, the answer as it comes.
    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        key: &str,
        url: impl reqwest::IntoUrl,
    ) -> reqwest::Response {
        self.http
            .request(method, url)
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
    }

    /// `GET path` with `key`.
    pub(crate) async fn get(&self, key: &str, path: &str) -> (StatusCode, Value) {
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

    /// Whether the queue `name` is paused in Redis now.
    pub(crate) async fn queue_paused(&self, name: &str) -> bool {
        let loads = self.runs.queue.loads(0).await.unwrap();
        loads.queues.iter().any(|q| q.queue == name && q.paused)
    }

    /// Waits until run `id` finished and asserts it completed; returns it.
    pub(crate) async fn completed_run(&self, id: &str, limit: Duration) -> Run {
        let run = self.finished_run(id, limit).await;
        assert_eq!(
            run.status,
            quire::store::RunStatus::Completed,
            "{:?}",
            run.error
        );
        run
    }

    /// The run `id` as it is now.
    pub(crate) async fn run(&self, id: &str) -> Run {
        self.observer
            .run(id)
            .await
            .unwrap()
            .expect("the run exists")
    }

    /// Posts `report` for tenant acme and returns its id once its attempt has written
    /// rows (panics after `limit`).
    pub(crate) async fn running_with_progress(&self, report: &str, limit: Duration) -> String {
        let (status, answer) = self
            .post_report(&self.acme_key, &body(report, serde_json::json!({})), None)
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
        let id = answer["id"].as_str().unwrap().to_owned();
        eventually(limit, "the attempt has written rows", || async {
            (self.run(&id).await.progress_rows > 0).then_some(())
        })
        .await;
        id
    }

    /// Rows in each of quire's tables an enqueue writes: runs, download tokens and
    /// idempotency keys.
    pub(crate) async fn enqueue_rows(&self) -> [i64; 3] {
        let mut rows = [0; 3];
        for (count, table) in rows.iter_mut().zip([
            "quire_runs",
            "quire_download_tokens",
            "quire_idempotency_keys",
        ]) {
            *count = self
                .db
                .scalar(&format!("SELECT COUNT(*) FROM {table}"))
                .await;
        }
        rows
    }

    /// The run `id` once it has finished (panics after `limit`).
    pub(crate) async fn finished_run(&self, id: &str, limit: Duration) -> Run {
        eventually(limit, &format!("run {id} finishes"), || async move {
            Some(self.run(id).await).filter(|run| run.status.is_finished())
        })
        .await
    }

    /// Every file under the storage folder.
    pub(crate) fn stored_files(&self) -> Vec<PathBuf> {
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
    pub(crate) async fn forget_redis_keys(&self) {
        let (url, prefix) = (self.redis_url.clone(), self.prefix.clone());
        tokio::task::spawn_blocking(move || crate::common::delete_prefix(&url, &prefix))
            .await
            .unwrap();
    }

    /// Stops the API and workers, deletes the Redis keys and the database.
    pub(crate) async fn cleanup(mut self) {
        // Workers first: one stopping mid-job hands the job back, which would write
        // keys again after they were deleted.
        self.shutdown.cancel();
        let (alive, _) = mpsc::channel(1);
        drop(std::mem::replace(&mut self.workers_alive, alive));
        tokio::time::timeout(Duration::from_secs(30), self.workers_stopped.recv())
            .await
            .expect("in-process workers stop");
        self.forget_redis_keys().await;
    }
}

/// A test that panics before [`TestApp::cleanup`] leaves no keys behind either (its
/// database is dropped by [`TestDb`]'s own `Drop`).
impl Drop for TestApp {
    fn drop(&mut self) {
        crate::common::delete_prefix(&self.redis_url, &self.prefix);
    }
}

/// An in-process worker of a [`TestApp`].
pub(crate) struct TestWorker {
    stop: CancellationToken,
    task: JoinHandle<Exit>,
}

impl TestWorker {
    /// Stops the worker the way SIGTERM does and waits until it has: running jobs
    /// finish within the grace period, and its loops stop with it.
    pub(crate) async fn stop(self) -> Exit {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("the worker stops")
            .expect("the worker does not panic")
    }
}

/// A request body for `report` of `acme` as CSV.
pub(crate) fn body(report: &str, params: Value) -> Value {
    serde_json::json!({ "tenant": "acme", "report": report, "format": "csv", "params": params })
}
