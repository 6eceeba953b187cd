//! Fresh, migrated databases for integration tests, on SQLite, PostgreSQL or MariaDB,
//! plus a few queries that read the same on each. Use it from a test binary with
//! `mod common;`.
//!
//! ```ignore
//! let test_db = TestDb::postgres().await; // or TestDb::sqlite().await
//! quire::seed::seed(test_db.db(), &options).await?;
//! assert_eq!(test_db.scalar("SELECT COUNT(*) FROM tenants").await, 3);
//! ```

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use quire::db::Db;
use sqlx::{AssertSqlSafe, Row};
use tokio::time::Instant;

/// The PostgreSQL server the tests create their databases on (as in CI).
pub(crate) const POSTGRES_SERVER_URL: &str = "postgres://postgres@127.0.0.1:5432";

/// The MariaDB server the tests create their databases on (as in CI).
pub(crate) const MYSQL_SERVER_URL: &str = "mysql://root@127.0.0.1:3306";

/// Runs each scenario, an `async fn(Backend)`, as one test per backend named:
/// `scenario::Sqlite` and so on.
#[allow(unused_macros)]
macro_rules! on_databases {
    ($backends:tt $($scenario:ident),* $(,)?) => {
        $(on_databases!(@scenario $scenario $backends);)*
    };
    (@scenario $scenario:ident [$($backend:ident),*]) => {
        mod $scenario {
            $(
                #[tokio::test]
                #[allow(non_snake_case)]
                async fn $backend() {
                    super::$scenario($crate::common::Backend::$backend).await;
                }
            )*
        }
    };
}
#[allow(unused_imports)]
pub(crate) use on_databases;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
    /// MariaDB.
    Mysql,
}

/// A database that exists for one test: a SQLite file in a temporary folder, or a
/// PostgreSQL or MariaDB database `quire_test_<uuid>` that is dropped when this value is.
pub(crate) struct TestDb {
    pub url: String,
    pub db: Db,
    owner: Owner,
    /// A scratch folder that lives as long as the database.
    scratch: tempfile::TempDir,
}

enum Owner {
    /// Deleted with the database file when dropped.
    Sqlite(tempfile::TempDir),
    /// A database on the server `server`, dropped with this value.
    Server { server: &'static str, name: String },
}

impl TestDb {
    /// A fresh, migrated database of `backend`.
    ///
    /// # Panics
    /// When the database cannot be created, reached or migrated.
    pub(crate) async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => TestDb::sqlite().await,
            Backend::Postgres => TestDb::postgres().await,
            Backend::Mysql => TestDb::mysql().await,
        }
    }

    /// A fresh database of `backend` with no tables at all, as an application's
    /// database is before quire first meets it.
    pub(crate) async fn empty(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => TestDb::empty_sqlite().await,
            Backend::Postgres => TestDb::empty_on(POSTGRES_SERVER_URL).await,
            Backend::Mysql => TestDb::empty_on(MYSQL_SERVER_URL).await,
        }
    }

    /// A fresh, migrated SQLite database in a temporary folder.
    pub(crate) async fn sqlite() -> TestDb {
        TestDb::empty_sqlite().await.migrated().await
    }

    /// A fresh, migrated PostgreSQL database on [`POSTGRES_SERVER_URL`].
    pub(crate) async fn postgres() -> TestDb {
        TestDb::empty_on(POSTGRES_SERVER_URL).await.migrated().await
    }

    /// A fresh, migrated MariaDB database on [`MYSQL_SERVER_URL`].
    pub(crate) async fn mysql() -> TestDb {
        TestDb::empty_on(MYSQL_SERVER_URL).await.migrated().await
    }

    async fn empty_sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("create a temporary folder");
        let url = format!("sqlite://{}", dir.path().join("quire.db").display());
        TestDb::open(url, Owner::Sqlite(dir)).await
    }

    /// A fresh database on `server` (PostgreSQL or MariaDB), by its admin user.
    async fn empty_on(server: &'static str) -> TestDb {
        let name = format!("quire_test_{}", uuid::Uuid::now_v7().simple());
        server_admin(server, &format!("CREATE DATABASE {name}")).await;
        let url = format!("{server}/{name}");
        TestDb::open(url, Owner::Server { server, name }).await
    }

    async fn open(url: String, owner: Owner) -> TestDb {
        let db = Db::connect(&url, 4)
            .await
            .expect("connect to the test database");
        TestDb {
            url,
            db,
            owner,
            scratch: tempfile::tempdir().expect("create a temporary folder"),
        }
    }

    /// This database with quire's tables and the demo schema installed.
    async fn migrated(self) -> TestDb {
        self.db.migrate().await.expect("migrate the test database");
        quire::seed::install_schema(&self.db)
            .await
            .expect("install the demo schema");
        self
    }

    /// The names of the database's tables, sorted.
    pub(crate) async fn tables(&self) -> Vec<String> {
        self.db.table_names().await.expect("list the tables")
    }

    /// One migrated database of each kind, with the demo schema.
    pub(crate) async fn each() -> [TestDb; 3] {
        [
            TestDb::sqlite().await,
            TestDb::postgres().await,
            TestDb::mysql().await,
        ]
    }

    /// Which database this is.
    pub(crate) fn backend(&self) -> Backend {
        match self.db.dialect() {
            quire::db::Dialect::Sqlite => Backend::Sqlite,
            quire::db::Dialect::Postgres => Backend::Postgres,
            quire::db::Dialect::Mysql => Backend::Mysql,
        }
    }

    /// A scratch folder that lives as long as the database.
    pub(crate) fn dir(&self) -> &Path {
        self.scratch.path()
    }

    /// Runs every statement of an SQL script (statements end with `;` at a line end).
    pub(crate) async fn run_script(&self, script: &str) {
        for statement in script.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
            let query = AssertSqlSafe(statement.to_owned());
            let result = quire::on_any_pool!(&self.db, pool => sqlx::query(query).execute(pool).await.map(drop));
            result.unwrap_or_else(|error| panic!("{error}: {}", self.describe(statement)));
        }
    }

    /// Runs a fixture script written for SQLite and PostgreSQL. Its timestamps are
    /// RFC 3339 UTC (`'…Z'`), which MySQL's DATETIME takes only without the zone.
    pub(crate) async fn load_fixture(&self, script: &str) {
        match self.db.dialect() {
            quire::db::Dialect::Mysql => self.run_script(&script.replace("Z'", "'")).await,
            quire::db::Dialect::Sqlite | quire::db::Dialect::Postgres => {
                self.run_script(script).await;
            }
        }
    }

    /// The database's URL, for a `DATABASE_URL` or a second pool.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// The migrated database.
    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    /// `sql`, written in the SQL SQLite and PostgreSQL share, for this database: MySQL
    /// spells the casts to `TEXT` and `BIGINT` as `CHAR` and `SIGNED`.
    pub(crate) fn for_this_database(&self, sql: &str) -> String {
        match self.db.dialect() {
            quire::db::Dialect::Mysql => sql
                .replace(" AS TEXT)", " AS CHAR)")
                .replace(" AS BIGINT)", " AS SIGNED)"),
            quire::db::Dialect::Sqlite | quire::db::Dialect::Postgres => sql.to_owned(),
        }
    }

    /// The integer that `sql` returns (one row, one column); `COUNT(*)` is one, but a
    /// `SUM` must be cast to `BIGINT`, since PostgreSQL and MySQL sum into NUMERIC.
    pub(crate) async fn scalar(&self, sql: &str) -> i64 {
        let query = AssertSqlSafe(self.for_this_database(sql));
        let result =
            quire::on_any_pool!(&self.db, pool => sqlx::query_scalar(query).fetch_one(pool).await);
        result.unwrap_or_else(|error| panic!("{error}: {}", self.describe(sql)))
    }

    /// Every row of `sql`, each column read as text (NULL as `None`): cast non-text
    /// columns with `CAST(... AS TEXT)`, which reads the same on every database.
    pub(crate) async fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let query = AssertSqlSafe(self.for_this_database(sql));
        let rows = quire::on_any_pool!(&self.db, pool => {
            sqlx::query(query).fetch_all(pool).await.map(|rows| {
                rows.iter()
                    .map(|row| (0..row.len()).map(|i| row.get(i)).collect())
                    .collect()
            })
        });
        rows.unwrap_or_else(|error| panic!("{error}: {}", self.describe(sql)))
    }

    /// Every row of `table` in id order, each as one line of text, for comparing whole
    /// tables.
    pub(crate) async fn dump(&self, table: &str) -> Vec<String> {
        match &self.db {
            Db::Sqlite(pool) => {
                let columns: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
                    "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
                )))
                .fetch_all(pool)
                .await
                .expect("read the table's columns");
                let sql = format!(
                    "SELECT json_array({}) FROM {table} ORDER BY id",
                    columns.join(", ")
                );
                sqlx::query_scalar(AssertSqlSafe(sql))
                    .fetch_all(pool)
                    .await
                    .expect("dump the table")
            }
            Db::Postgres(pool) => sqlx::query(AssertSqlSafe(format!(
                "SELECT CAST(t AS TEXT) FROM {table} AS t ORDER BY id"
            )))
            .fetch_all(pool)
            .await
            .expect("dump the table")
            .iter()
            .map(|row| row.get(0))
            .collect(),
            Db::Mysql(pool) => {
                let columns: Vec<String> = sqlx::query_scalar(
                    "SELECT CAST(column_name AS CHAR) FROM information_schema.columns \
                     WHERE table_schema = DATABASE() AND table_name = ? \
                     ORDER BY ordinal_position",
                )
                .bind(table)
                .fetch_all(pool)
                .await
                .expect("read the table's columns");
                let sql = format!(
                    "SELECT CAST(JSON_ARRAY({}) AS CHAR) FROM {table} ORDER BY id",
                    columns.join(", ")
                );
                sqlx::query_scalar(AssertSqlSafe(sql))
                    .fetch_all(pool)
                    .await
                    .expect("dump the table")
            }
        }
    }

    fn describe(&self, sql: &str) -> String {
        format!("{sql} (on {})", self.url)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Owner::Server { server, name } = &self.owner {
            let (server, name) = (*server, name.clone());
            // Drop cannot await, and the test's runtime may be the current thread: drop
            // the database from a thread with a runtime of its own.
            let dropped = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime");
                // PostgreSQL's FORCE ends the connections the pool still holds.
                let force = if server == POSTGRES_SERVER_URL {
                    " WITH (FORCE)"
                } else {
                    ""
                };
                runtime.block_on(async {
                    if server == MYSQL_SERVER_URL {
                        end_mysql_sessions_on(&name).await;
                    }
                    server_admin(server, &format!("DROP DATABASE IF EXISTS {name}{force}")).await;
                });
            })
            .join();
            // A failed drop must not turn a passing test into a double panic.
            if dropped.is_err() && !std::thread::panicking() {
                panic!("could not drop the test database");
            }
        }
    }
}

/// Runs `statement` (`CREATE`/`DROP DATABASE`) on `server` as its admin user.
async fn server_admin(server: &str, statement: &str) {
    let admin_database = if server == POSTGRES_SERVER_URL {
        "postgres"
    } else {
        "mysql"
    };
    let admin = Db::connect(&format!("{server}/{admin_database}"), 1)
        .await
        .unwrap_or_else(|error| panic!("{server} is up: {error}"));
    quire::on_any_pool!(&admin, pool => sqlx::query(AssertSqlSafe(statement.to_owned())).execute(pool).await.map(drop))
        .unwrap_or_else(|error| panic!("{statement}: {error}"));
    admin.close().await;
}

/// Ends the sessions still open on MariaDB database `name`, as PostgreSQL's `FORCE`
/// does: a connection the test's pool is closing, on the runtime this drop blocks,
/// may still hold a metadata lock that `DROP DATABASE` would wait for.
async fn end_mysql_sessions_on(name: &str) {
    let admin = Db::connect(&format!("{MYSQL_SERVER_URL}/mysql"), 1)
        .await
        .unwrap_or_else(|error| panic!("{MYSQL_SERVER_URL} is up: {error}"));
    let Db::Mysql(pool) = &admin else {
        unreachable!("a mysql:// URL opens MySQL")
    };
    let sessions: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()",
    )
    .bind(name)
    .fetch_all(pool)
    .await
    .expect("list the sessions");
    for id in sessions {
        // A session that ended meanwhile is an "unknown thread": nothing left to do.
        let _ = sqlx::query(AssertSqlSafe(format!("KILL {id}")))
            .execute(pool)
            .await;
    }
    admin.close().await;
}

/// The files in `dir`, sorted, for "nothing was left behind" checks.
pub(crate) fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.map(|e| e.expect("dir entry").path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

/// Deletes every key of `prefix` on the Redis at `url` (one server, or a cluster's
/// `redis+cluster://` seed nodes), without a runtime so that a `Drop` can call it (a
/// test that panics leaves no keys behind either). Quietly does nothing when that Redis
/// is gone: a test may have stopped its own server.
pub(crate) fn delete_prefix(url: &str, prefix: &str) {
    let timeout = Duration::from_millis(200);
    if let Some(nodes) = url.strip_prefix("redis+cluster://") {
        let seeds = nodes.split(',').map(|node| format!("redis://{node}"));
        let client = redis::cluster::ClusterClient::builder(seeds)
            .connection_timeout(timeout)
            .build();
        if let Ok(mut conn) = client.and_then(|client| client.get_connection()) {
            delete_keys(&mut conn, prefix);
        }
        return;
    }
    let Ok(client) = redis::Client::open(url) else {
        return;
    };
    let Ok(mut conn) = client.get_connection_with_timeout(timeout) else {
        return;
    };
    delete_keys(&mut conn, prefix);
}

/// Deletes the keys of `prefix` on `conn`: KEYS asks every master of a cluster, and the
/// keys share one slot, so each DEL goes to the one that holds them.
fn delete_keys(conn: &mut impl redis::ConnectionLike, prefix: &str) {
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{{{prefix}}}:*"))
        .query(conn)
        .unwrap_or_default();
    for chunk in keys.chunks(500) {
        let _: redis::RedisResult<i64> = redis::cmd("DEL").arg(chunk).query(conn);
    }
}

/// A port nothing listens on right now, for a server a test starts: with port 0 the
/// server would not tell which port it got.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills a test's server process, if it runs, and reaps it.
fn kill(child: &mut Option<std::process::Child>) {
    if let Some(mut child) = child.take() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A redis-server owned by one test, on a free port, with its data in a temp dir so it
/// can be stopped and started again with its data (append-only file).
pub(crate) struct RedisServer {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it answers.
    pub(crate) async fn start() -> RedisServer {
        let mut server = RedisServer {
            port: free_port(),
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        server.resume().await;
        server
    }

    /// The URL to reach it.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server again on the same port and data.
    pub(crate) async fn resume(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let client = redis::Client::open(self.url()).unwrap();
        wait_until(Duration::from_secs(10), "redis-server answers", || {
            let client = client.clone();
            async move {
                let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
                    return false;
                };
                redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .is_ok()
            }
        })
        .await;
    }

    /// Kills the server (SIGKILL) and starts it again with no data, as a Redis that
    /// crashed without persistence comes back.
    pub(crate) async fn restart_empty(&mut self) {
        kill(&mut self.child);
        for entry in std::fs::read_dir(self.dir.path()).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                std::fs::remove_dir_all(path).unwrap();
            } else {
                std::fs::remove_file(path).unwrap();
            }
        }
        self.resume().await;
    }

    /// Stops the server (SIGTERM: it writes its data and exits).
    pub(crate) fn pause(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = std::process::Command::new("kill")
                .arg(child.id().to_string())
                .status();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}

/// The access key and secret of the test S3 servers.
pub(crate) const S3_ACCESS_KEY: &str = "quire-test";
pub(crate) const S3_SECRET_KEY: &str = "quire-test-secret";

/// An S3-compatible server owned by one test: `s3s-fs` (which `.ci/run` installs under
/// `target/s3s`) on a free loopback port over HTTP, its buckets folders of a temp dir.
/// Stopped and started again on the same port and data; killed when dropped.
pub(crate) struct S3Server {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Option<std::process::Child>,
}

impl S3Server {
    /// Starts a server on a free port and waits until it accepts connections.
    pub(crate) async fn start() -> S3Server {
        let mut server = S3Server {
            port: free_port(),
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        server.resume().await;
        server
    }

    /// Its endpoint, for `QUIRE_S3_ENDPOINT`.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates the bucket `name` (a bucket of s3s-fs is a folder of its root).
    pub(crate) fn create_bucket(&self, name: &str) {
        std::fs::create_dir(self.dir.path().join(name)).unwrap();
    }

    /// The keys of the objects in `bucket`, sorted, read from the server's own folder.
    pub(crate) fn objects(&self, bucket: &str) -> Vec<String> {
        let root = self.dir.path().join(bucket);
        let mut keys = Vec::new();
        let mut folders = vec![root.clone()];
        while let Some(folder) = folders.pop() {
            for path in files_in(&folder) {
                if path.is_dir() {
                    folders.push(path);
                } else {
                    keys.push(path.strip_prefix(&root).unwrap().display().to_string());
                }
            }
        }
        keys.sort();
        keys
    }

    /// Multipart uploads begun and neither completed nor aborted: s3s-fs keeps each
    /// one's record and parts as `.upload-*` files in its root.
    pub(crate) fn open_uploads(&self) -> Vec<PathBuf> {
        files_in(self.dir.path())
            .into_iter()
            .filter(|path| {
                path.file_name()
                    .is_some_and(|name| name.to_string_lossy().starts_with(".upload"))
            })
            .collect()
    }

    /// Starts the server again on the same port and data.
    pub(crate) async fn resume(&mut self) {
        let binary = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/s3s/bin/s3s-fs");
        let child = std::process::Command::new(&binary)
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", S3_ACCESS_KEY, "--secret-key", S3_SECRET_KEY])
            .arg(self.dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("{} starts (.ci/run installs it): {error}", binary.display())
            });
        self.child = Some(child);
        let address = format!("127.0.0.1:{}", self.port);
        wait_until(
            Duration::from_secs(10),
            "s3s-fs accepts connections",
            || {
                let address = address.clone();
                async move { tokio::net::TcpStream::connect(address).await.is_ok() }
            },
        )
        .await;
    }

    /// Kills the server: the object store is unreachable.
    pub(crate) fn stop(&mut self) {
        kill(&mut self.child);
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Polls `condition` every 10 ms until it holds; panics naming `what` after `limit`.
pub(crate) async fn wait_until<F, Fut>(limit: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    eventually(limit, what, || {
        let check = condition();
        async move { check.await.then_some(()) }
    })
    .await;
}

/// Polls `probe` every 10 ms until it yields a value; panics naming `what` after `limit`.
pub(crate) async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Renders `report` for `tenant` with the request parameters `input` into `out`, as a
/// run does: parameters resolved in the tenant's dates, then the file built.
pub(crate) async fn render_report(
    reporter: &quire::report::Reporter,
    report: &str,
    tenant: &str,
    input: &serde_json::Map<String, serde_json::Value>,
    format: quire::writer::Format,
    out: &Path,
) -> Result<quire::report::Rendered, quire::report::ReportError> {
    let params = reporter
        .resolve_params_for_tenant(report, tenant, input)
        .await?;
    let request = quire::report::ReportRequest {
        report: report.into(),
        tenant: tenant.into(),
        format,
        params,
        options: quire::writer::OutputOptions::default(),
    };
    reporter
        .render(
            &request,
            out,
            &tokio_util::sync::CancellationToken::new(),
            std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0)),
        )
        .await
}

/// A TCP proxy on a free port in front of a real server, which a test can cut: the
/// network between quire and its database failing, without touching the shared server.
pub(crate) struct TcpProxy {
    pub port: u16,
    target: &'static str,
    accepting: Option<tokio::task::JoinHandle<()>>,
    connections: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl TcpProxy {
    /// Starts forwarding connections on a free port to `target` (`host:port`).
    pub(crate) async fn start(target: &'static str) -> TcpProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut proxy = TcpProxy {
            port: listener.local_addr().unwrap().port(),
            target,
            accepting: None,
            connections: std::sync::Arc::default(),
        };
        proxy.forward(listener);
        proxy
    }

    /// The URL of a test database on the proxied server, reached through the proxy.
    pub(crate) fn route(&self) -> impl Fn(&TestDb) -> String + use<> {
        let server_port = format!(":{}", self.target.rsplit(':').next().unwrap());
        let proxy_port = format!(":{}", self.port);
        move |db| db.url().replacen(&server_port, &proxy_port, 1)
    }

    fn forward(&mut self, listener: tokio::net::TcpListener) {
        let (target, tracked) = (self.target, self.connections.clone());
        self.accepting = Some(tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let forwarding = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tracked
                    .lock()
                    .expect("no panic holds the lock")
                    .push(forwarding.abort_handle());
            }
        }));
    }

    /// Closes every connection open through the proxy; new ones are still forwarded.
    pub(crate) fn cut(&self) {
        for connection in self
            .connections
            .lock()
            .expect("no panic holds the lock")
            .drain(..)
        {
            connection.abort();
        }
    }

    /// Cuts every connection and stops listening: the server is gone.
    pub(crate) async fn refuse(&mut self) {
        if let Some(accepting) = self.accepting.take() {
            accepting.abort();
            let _ = accepting.await;
        }
        self.cut();
    }

    /// Listens again on the same port after [`TcpProxy::refuse`]: the server is back.
    pub(crate) async fn resume(&mut self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .unwrap();
        self.forward(listener);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        if let Some(accepting) = &self.accepting {
            accepting.abort();
        }
        self.cut();
    }
}

/// Runs `quire bench ARGS` and returns its summary line, parsed.
pub(crate) fn bench(args: &[&str]) -> quire::bench::Summary {
    bench_with(args, &[])
}

/// [`bench`] with more environment `env`.
pub(crate) fn bench_with(args: &[&str], env: &[(&str, &str)]) -> quire::bench::Summary {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_quire"))
        .arg("bench")
        .args(args)
        .env_remove("DATABASE_URL")
        .env("QUIRE_LOG", "warn")
        .envs(env.iter().copied())
        .output()
        .expect("run quire bench");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "quire bench {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout.lines().last().expect("a summary line");
    quire::bench::Summary::parse(line).unwrap_or_else(|| panic!("not a summary line: {line:?}"))
}

pub(crate) fn number(summary: &quire::bench::Summary, key: &str) -> f64 {
    summary
        .get(key)
        .unwrap_or_else(|| panic!("{key} missing from {}", summary.line()))
        .parse()
        .unwrap_or_else(|_| panic!("{key} is not a number in {}", summary.line()))
}

/// A certificate authority made for a test, and a certificate it signed for `names`
/// (host names or IP addresses), for servers that clients reach over TLS.
pub(crate) struct TestCertificates {
    /// The CA's certificate, PEM: what clients are told to trust.
    pub ca_pem: String,
    /// The server's certificate.
    pub cert: rcgen::Certificate,
    /// Its private key.
    pub key: rcgen::KeyPair,
}

impl TestCertificates {
    pub(crate) fn new(ca_name: &str, names: &[&str]) -> TestCertificates {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, ca_name);
        let ca =
            rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
                .unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let cert = rcgen::CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        TestCertificates {
            ca_pem: ca.pem(),
            cert,
            key,
        }
    }
}
