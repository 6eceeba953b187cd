//! Connections to the SQL databases: SQLite (the embedded default), PostgreSQL and
//! MySQL/MariaDB, each with its own typed pool, because sqlx's `Any` driver cannot
//! decode NUMERIC, DATE or TIMESTAMP.

use std::path::Path;
use std::str::FromStr;
use std::sync::LazyLock;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// Errors of the database layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL names no database quire speaks; holds the URL.
    #[error("a database URL must start with sqlite://, postgres:// or mysql:// (got {0:?})")]
    UnsupportedUrl(String),
    /// A SQLite file's folder cannot be created, or its setup lock cannot be taken.
    #[error("cannot create or lock the database's folder or files at {path}: {source}")]
    CreateDir {
        /// The folder or database file concerned.
        path: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A SQLite file to read reports from does not exist (it is never created for that).
    #[error("the SQLite database {0} does not exist")]
    NoSuchFile(String),
    /// The URL is malformed or the database cannot be reached.
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    /// A migration failed to apply.
    #[error("migrating the database failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database server took no TCP connection while a call waited for it.
    #[error("cannot reach the database server at {address}: {reason}")]
    Unreachable {
        /// The `host:port` tried.
        address: String,
        /// Why: refused, unresolvable, or no answer in time.
        reason: String,
    },
}

/// How long a database call runs before quire also tries the server's port, and how
/// long that try may take: together under 2 s, where the pool alone would wait its
/// acquire timeout (10 s) and say only that it timed out. A healthy server answers
/// before the try starts and never sees it.
const PROBE_AFTER: Duration = Duration::from_millis(250);
const PROBE_TIMEOUT: Duration = Duration::from_millis(1500);

/// A network database's `host:port`; `None` for SQLite and Unix sockets.
type Address = Option<(String, u16)>;

fn tcp_address(host: &str, port: u16, socket: Option<&std::path::PathBuf>) -> Address {
    (socket.is_none() && !host.starts_with('/')).then(|| (host.to_owned(), port))
}

/// `work`, unless the server at `address` turns out not to take a TCP connection
/// while it runs: then [`DbError::Unreachable`] with the address.
async fn within_reach<T>(address: &Address, work: impl Future<Output = T>) -> Result<T, DbError> {
    let Some((host, port)) = address else {
        return Ok(work.await);
    };
    let probe = async {
        tokio::time::sleep(PROBE_AFTER).await;
        let reason = match tokio::time::timeout(
            PROBE_TIMEOUT,
            tokio::net::TcpStream::connect((host.as_str(), *port)),
        )
        .await
        {
            Ok(Ok(_)) => return std::future::pending().await,
            Ok(Err(error)) => error.to_string(),
            Err(_) => format!("no answer within {} ms", PROBE_TIMEOUT.as_millis()),
        };
        DbError::Unreachable {
            address: format!("{host}:{port}"),
            reason,
        }
    };
    tokio::select! {
        done = work => Ok(done),
        unreachable = probe => Err(unreachable),
    }
}

/// Which SQL dialect a database speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite, with `?n` placeholders.
    Sqlite,
    /// PostgreSQL, with `$n` placeholders.
    Postgres,
    /// MySQL and MariaDB, with positional `?` placeholders.
    Mysql,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    ReadWrite,
    ReadOnly,
}

/// A connection pool to one database.
#[derive(Debug, Clone)]
pub enum Db {
    /// A pool of SQLite connections to one file.
    Sqlite(SqlitePool),
    /// A pool of PostgreSQL connections.
    Postgres(PgPool),
    /// A pool of MySQL or MariaDB connections.
    Mysql(MySqlPool),
}

/// Runs `$body` with `$pool` bound to the concrete pool of `$db`, whichever database
/// it is: for code that reads the same on each.
#[macro_export]
macro_rules! on_any_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($pool) => $body,
            $crate::db::Db::Postgres($pool) => $body,
            $crate::db::Db::Mysql($pool) => $body,
        }
    };
}

/// A schema's migrations, one folder per dialect, with the history of those applied
/// kept in a table of its own, so that neither quire's tables nor the demo schema's
/// are confused with anything else in a database.
#[derive(Debug)]
pub struct Migrations {
    history_table: &'static str,
    sqlite: Migrator,
    postgres: Migrator,
    mysql: Migrator,
}

impl Migrations {
    fn new(
        history_table: &'static str,
        sqlite: Migrator,
        postgres: Migrator,
        mysql: Migrator,
    ) -> Self {
        let recorded_in = |mut migrator: Migrator| {
            migrator.dangerous_set_table_name(history_table);
            migrator
        };
        Migrations {
            history_table,
            sqlite: recorded_in(sqlite),
            postgres: recorded_in(postgres),
            mysql: recorded_in(mysql),
        }
    }

    /// The table that records which of these migrations a database has had.
    pub fn history_table(&self) -> &'static str {
        self.history_table
    }
}

/// A migration a database was just given.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AppliedMigration {
    /// Its version, the number its file name starts with.
    pub version: i64,
    /// What it does, from its file name.
    pub description: String,
}

/// quire's own tables, all named `quire_*`, with their history in `quire_migrations`.
static QUIRE_STATE: LazyLock<Migrations> = LazyLock::new(|| {
    Migrations::new(
        "quire_migrations",
        sqlx::migrate!("./migrations/quire/sqlite"),
        sqlx::migrate!("./migrations/quire/postgres"),
        sqlx::migrate!("./migrations/quire/mysql"),
    )
});

/// The demo invoicing schema the shipped catalog reads, with its history in
/// `quire_demo_migrations`; only `quire seed` and `quire demo` install it.
pub static DEMO_SCHEMA: LazyLock<Migrations> = LazyLock::new(|| {
    Migrations::new(
        "quire_demo_migrations",
        sqlx::migrate!("./migrations/demo/sqlite"),
        sqlx::migrate!("./migrations/demo/postgres"),
        sqlx::migrate!("./migrations/demo/mysql"),
    )
});

/// How long a SQLite writer waits for the lock before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

impl Db {
    /// Connects to `url`, creating a SQLite file and its folder on first use.
    ///
    /// # Errors
    /// When the URL names no supported database or the database cannot be reached.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Db, DbError> {
        Db::open(url, max_connections, Access::ReadWrite).await
    }

    /// A pool for report queries: read-only connections, separate from quire's own pool
    /// so that a long export never starves the queue's bookkeeping.
    ///
    /// # Errors
    /// When the URL names no supported database or the database cannot be reached.
    pub async fn connect_reports(url: &str, max_connections: u32) -> Result<Db, DbError> {
        Db::open(url, max_connections, Access::ReadOnly).await
    }

    async fn open(url: &str, max_connections: u32, access: Access) -> Result<Db, DbError> {
        let read_only = if access == Access::ReadOnly {
            "on"
        } else {
            "off"
        };
        // A pooled connection the server closed (a restart while quire was idle, a
        // proxy's idle cut) would fail the first query sent on it: an API request
        // answering 503, a report attempt spent. Network pools ping a connection before
        // handing it out, one round trip per acquire, and replace it when the ping fails
        // (sqlx's test_before_acquire, on by default; set here so that it stays on).
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(DbError::Connect)?
                .create_if_missing(access == Access::ReadWrite)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .foreign_keys(true)
                .pragma("query_only", read_only);
            let file = Path::new(options.get_filename());
            match access {
                // A database to read reports from is the app's: a missing file is a
                // mistake to name, not an empty database to make (in the wrong folder).
                Access::ReadOnly if !file.exists() => {
                    return Err(DbError::NoSuchFile(file.display().to_string()));
                }
                Access::ReadOnly => {}
                Access::ReadWrite => {
                    if let Some(parent) = file.parent()
                        && !parent.as_os_str().is_empty()
                    {
                        std::fs::create_dir_all(parent).map_err(|source| DbError::CreateDir {
                            path: parent.display().to_string(),
                            source,
                        })?;
                    }
                }
            }
            // The first connection switches a fresh file to WAL, which needs the file to
            // itself: another process doing the same at that moment fails with "database
            // is locked" rather than waiting. A read-only pool sets nothing up, and its
            // folder may not be writable.
            let _setup = match access {
                Access::ReadWrite => Some(lock_beside(options.get_filename()).await?),
                Access::ReadOnly => None,
            };
            // A file has no network to drop a connection: no ping before each acquire.
            let pool = SqlitePoolOptions::new()
                .max_connections(max_connections)
                .test_before_acquire(false)
                .connect_with(options)
                .await
                .map_err(DbError::Connect)?;
            Ok(Db::Sqlite(pool))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url)
                .map_err(DbError::Connect)?
                .options([("default_transaction_read_only", read_only)]);
            let address = tcp_address(options.get_host(), options.get_port(), options.get_socket());
            let connect = PgPoolOptions::new()
                .max_connections(max_connections)
                .test_before_acquire(true)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options);
            let pool = within_reach(&address, connect)
                .await?
                .map_err(DbError::Connect)?;
            Ok(Db::Postgres(pool))
        } else if url.starts_with("mysql:") || url.starts_with("mariadb:") {
            // sqlx sets the session's time zone to UTC, so TIMESTAMP columns read as UTC.
            let options = MySqlConnectOptions::from_str(url).map_err(DbError::Connect)?;
            let address = tcp_address(options.get_host(), options.get_port(), options.get_socket());
            let session = match access {
                Access::ReadOnly => include_str!("sql/read_only.mysql.sql"),
                Access::ReadWrite => include_str!("sql/read_write.mysql.sql"),
            };
            let connect = MySqlPoolOptions::new()
                .max_connections(max_connections)
                .test_before_acquire(true)
                .acquire_timeout(Duration::from_secs(10))
                .after_connect(move |conn, _| {
                    Box::pin(async move { sqlx::query(session).execute(conn).await.map(drop) })
                })
                .connect_with(options);
            let pool = within_reach(&address, connect)
                .await?
                .map_err(DbError::Connect)?;
            Ok(Db::Mysql(pool))
        } else {
            Err(DbError::UnsupportedUrl(url.to_owned()))
        }
    }

    /// `work` on this database, unless its server turns out not to take a TCP
    /// connection while it runs: a down server is named, with its address, within 2 s.
    ///
    /// # Errors
    /// [`DbError::Unreachable`] with the address tried.
    pub async fn within_reach<T>(&self, work: impl Future<Output = T>) -> Result<T, DbError> {
        let address = match self {
            Db::Sqlite(_) => None,
            Db::Postgres(pool) => {
                let options = pool.connect_options();
                tcp_address(options.get_host(), options.get_port(), options.get_socket())
            }
            Db::Mysql(pool) => {
                let options = pool.connect_options();
                tcp_address(options.get_host(), options.get_port(), options.get_socket())
            }
        };
        within_reach(&address, work).await
    }

    /// The dialect of this database.
    pub fn dialect(&self) -> Dialect {
        match self {
            Db::Sqlite(_) => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
            Db::Mysql(_) => Dialect::Mysql,
        }
    }

    /// Applies every pending migration of quire's own tables; returns those it applied.
    ///
    /// # Errors
    /// When a migration fails or was changed after it was applied.
    pub async fn migrate(&self) -> Result<Vec<AppliedMigration>, DbError> {
        self.apply(&QUIRE_STATE).await
    }

    /// Applies every pending migration of `migrations`; returns those it applied.
    ///
    /// # Errors
    /// When a migration fails or was changed after it was applied.
    pub async fn apply(&self, migrations: &Migrations) -> Result<Vec<AppliedMigration>, DbError> {
        let _setup = match self {
            Db::Sqlite(pool) => Some(lock_beside(pool.connect_options().get_filename()).await?),
            Db::Postgres(_) | Db::Mysql(_) => None,
        };
        // On SQLite read under the setup lock; on a server, two processes migrating at
        // once may both report a migration that one of them applied.
        let before = self.migration_versions(migrations.history_table).await?;
        let migrator = match self {
            Db::Sqlite(pool) => {
                migrations.sqlite.run(pool).await?;
                &migrations.sqlite
            }
            Db::Postgres(pool) => {
                migrations.postgres.run(pool).await?;
                &migrations.postgres
            }
            Db::Mysql(pool) => {
                migrations.mysql.run(pool).await?;
                &migrations.mysql
            }
        };
        Ok(migrator
            .iter()
            .filter(|m| !m.migration_type.is_down_migration() && !before.contains(&m.version))
            .map(|m| AppliedMigration {
                version: m.version,
                description: m.description.to_string(),
            })
            .collect())
    }

    /// The versions recorded in the history table `table`; none before it exists.
    async fn migration_versions(&self, table: &str) -> Result<Vec<i64>, DbError> {
        let read = async {
            if !self.table_names().await?.iter().any(|name| name == table) {
                return Ok(Vec::new());
            }
            let sql = sqlx::AssertSqlSafe(format!("SELECT version FROM {table}"));
            on_any_pool!(self, pool => sqlx::query_scalar(sql).fetch_all(pool).await)
        };
        read.await
            .map_err(|error| DbError::Migrate(sqlx::migrate::MigrateError::Execute(error)))
    }

    /// The tables of the database (of the current schema, on PostgreSQL), sorted.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub async fn table_names(&self) -> Result<Vec<String>, sqlx::Error> {
        match self {
            Db::Sqlite(pool) => {
                sqlx::query_scalar(include_str!("sql/tables.sqlite.sql"))
                    .fetch_all(pool)
                    .await
            }
            Db::Postgres(pool) => {
                sqlx::query_scalar(include_str!("sql/tables.postgres.sql"))
                    .fetch_all(pool)
                    .await
            }
            Db::Mysql(pool) => {
                sqlx::query_scalar(include_str!("sql/tables.mysql.sql"))
                    .fetch_all(pool)
                    .await
            }
        }
    }

    /// Closes every connection of the pool.
    pub async fn close(&self) {
        match self {
            Db::Sqlite(pool) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
            Db::Mysql(pool) => pool.close().await,
        }
    }
}

/// Locks a file beside the SQLite database `database` until the returned guard drops.
/// sqlx takes no lock of its own while it sets up a SQLite file, so processes starting
/// together on a fresh file take turns here: to switch it to WAL, then to migrate it
/// (PostgreSQL gets an advisory lock from sqlx).
async fn lock_beside(database: &Path) -> Result<std::fs::File, DbError> {
    // The name predates the WAL switch's use of it; earlier builds take the same file.
    let lock_path = database.with_extension("migrate-lock");
    let locked = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
        let file = std::fs::File::create(&lock_path)?;
        file.lock()?;
        Ok(file)
    })
    .await
    .expect("the lock task does not panic");
    locked.map_err(|source| DbError::CreateDir {
        path: database.display().to_string(),
        source,
    })
}

/// Whether `error` says the database could not be reached (connection refused, cut or
/// timed out, the server shutting down or starting up), rather than anything about the
/// statement: work that meets it is not at fault and can wait for the database.
pub fn is_unreachable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // PostgreSQL: connection exceptions (08…), admin or crash shutdown and
            // "the database system is starting up" (57P01–57P03). MySQL: shutdown in
            // progress (1053), server gone away or connection lost (2006, 2013).
            code.starts_with("08")
                || matches!(code.as_ref(), "57P01" | "57P02" | "57P03")
                || db
                    .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                    .is_some_and(|error| matches!(error.number(), 1053 | 2006 | 2013))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_fresh_sqlite_file_is_not_opened_while_another_process_sets_it_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("quire.db");
        let url = format!("sqlite://{}", path.display());
        let other_process = lock_beside(&path).await.unwrap();
        let mut opening = tokio::spawn(async move { Db::connect(&url, 1).await });
        let waited = tokio::time::timeout(Duration::from_millis(300), &mut opening).await;
        assert!(waited.is_err(), "the open went ahead of the lock");
        assert!(
            !path.exists(),
            "the file was created under the other's lock"
        );
        drop(other_process);
        opening.await.unwrap().expect("opens once the lock is free");
        assert!(path.exists());
    }
}
