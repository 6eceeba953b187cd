//! Fresh, isolated databases for integration tests: a new SQLite file or a new
//! PostgreSQL database per test, so tests run in parallel.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};

use quire::db::Db;

/// The server every PostgreSQL test database is created on.
pub const POSTGRES_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A migrated database that exists for one test.
pub struct TestDb {
    pub url: String,
    pub db: Db,
    /// Keeps the SQLite folder alive; names the PostgreSQL database to drop.
    _dir: tempfile::TempDir,
    postgres_name: Option<String>,
}

impl TestDb {
    /// A fresh SQLite file in a temporary folder.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("quire.db").display());
        let db = Db::connect(&url, 4).await.expect("open SQLite");
        db.migrate().await.expect("migrate SQLite");
        TestDb {
            url,
            db,
            _dir: dir,
            postgres_name: None,
        }
    }

    /// A fresh PostgreSQL database on the local server.
    pub async fn postgres() -> TestDb {
        let name = format!("quire_test_{}", uuid::Uuid::now_v7().simple());
        let admin = Db::connect(POSTGRES_ADMIN_URL, 1)
            .await
            .expect("reach PostgreSQL");
        let Db::Postgres(pool) = &admin else {
            unreachable!()
        };
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(pool)
            .await
            .expect("create test database");
        admin.close().await;
        let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
        let db = Db::connect(&url, 4).await.expect("open test database");
        db.migrate().await.expect("migrate PostgreSQL");
        TestDb {
            url,
            db,
            _dir: tempfile::tempdir().expect("temp dir"),
            postgres_name: Some(name),
        }
    }

    /// Both kinds, for tests that must hold on each database.
    pub async fn each() -> [TestDb; 2] {
        [TestDb::sqlite().await, TestDb::postgres().await]
    }

    /// A scratch folder that lives as long as the database.
    pub fn dir(&self) -> &Path {
        self._dir.path()
    }

    /// Runs every statement of an SQL script (separated by `;` at line ends).
    pub async fn run_script(&self, script: &str) {
        for statement in script.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
            let sql = sqlx::AssertSqlSafe(statement.to_owned());
            let result = match &self.db {
                Db::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(drop),
                Db::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(drop),
            };
            result.unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
    }

    /// Drops the PostgreSQL database; SQLite files go with the temp folder.
    pub async fn cleanup(self) {
        self.db.close().await;
        if let Some(name) = self.postgres_name {
            let admin = Db::connect(POSTGRES_ADMIN_URL, 1)
                .await
                .expect("reach PostgreSQL");
            let Db::Postgres(pool) = &admin else {
                unreachable!()
            };
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(pool)
            .await
            .expect("drop test database");
            admin.close().await;
        }
    }
}

/// The files in `dir`, sorted, for "nothing was left behind" checks.
pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.map(|e| e.expect("dir entry").path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

/// A redis-server owned by one test, on a free port, with its data in a temp dir so it
/// can be stopped and started again with its data (append-only file).
pub struct RedisServer {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it answers.
    pub async fn start() -> RedisServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = RedisServer {
            port,
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        server.resume().await;
        server
    }

    /// The URL to reach it.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server again on the same port and data.
    pub async fn resume(&mut self) {
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
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        let client = redis::Client::open(self.url()).unwrap();
        loop {
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .is_ok()
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "redis-server did not answer"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Stops the server (SIGTERM: it writes its data and exits).
    pub fn pause(&mut self) {
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
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
