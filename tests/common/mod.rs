//! Fresh, isolated databases for integration tests: a new SQLite file or a new
//! PostgreSQL database per test, so tests run in parallel.
#![allow(dead_code)] // each test binary uses its own subset

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use quire::db::Db;
use tokio::time::Instant;

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

/// Polls `condition` every 10 ms until it holds; panics naming `what` after `limit`.
pub async fn wait_until<F, Fut>(limit: Duration, what: &str, mut condition: F)
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
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut probe: F) -> T
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
