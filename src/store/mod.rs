//! quire's own state in SQL: runs, download tokens, idempotency keys, API keys and
//! webhook deliveries. Each query is a file under `sql/`, with a header naming its
//! binds. Most are written once for every database (text ids, integer millisecond
//! times, `$n` placeholders, which SQLite accepts too and [`statement`] turns into
//! MySQL's positional `?`); a query a dialect needs written its own way is
//! `name.<dialect>.sql`.

mod api_keys;
mod group_commit;
mod idempotency;
mod runs;
mod statement;
mod tokens;
mod webhooks;

pub use api_keys::{Access, ApiKey, NewApiKey};
pub use runs::{
    EnqueueOutcome, Fence, MinuteCounts, NewRun, Run, RunError, RunEvent, RunFile, RunPage,
    RunQuery, RunStatus, RunTimes, StartOutcome, first_id_at,
};
pub use tokens::TokenLookup;
pub use webhooks::{Delivery, DeliveryRecord};

use std::sync::{Arc, OnceLock};

use sha2::{Digest, Sha256};

use crate::clock::Clock;
use crate::db::Db;
use statement::Statement;

/// Failures of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database is unreachable or failed: worth retrying.
    #[error("the database is unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// A row holds something quire did not write (a hand-edited status, say).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database failed a transaction that wrote several requests at once (SQLite's
    /// group commit of new runs): each of them gets this.
    #[error("the database is unavailable: {0}")]
    UnavailableForBatch(#[source] Arc<sqlx::Error>),
    /// The `Idempotency-Key` was used before with a different request.
    #[error("the Idempotency-Key was already used with a different request")]
    IdempotencyConflict,
}

impl StoreError {
    /// Whether the database could not be reached (see [`crate::db::is_unreachable`]).
    pub fn is_unreachable(&self) -> bool {
        match self {
            StoreError::Unavailable(error) => crate::db::is_unreachable(error),
            StoreError::UnavailableForBatch(error) => crate::db::is_unreachable(error),
            StoreError::Corrupt(_) | StoreError::IdempotencyConflict => false,
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> StoreError {
        StoreError::Unavailable(error)
    }
}

/// The store statement `sql/$name`, a [`Statement`](statement::Statement); with
/// `mysql = $mysql`, MySQL runs `sql/$mysql` instead.
macro_rules! sql {
    (@file $name:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/src/store/sql/", $name))
    };
    ($name:literal $(, mysql = $mysql:literal)?) => {{
        static STATEMENT: $crate::store::statement::Statement =
            $crate::store::statement::Statement::new(
                $crate::store::sql!(@file $name),
                $crate::store::sql!(@mysql $($mysql)?),
            );
        &STATEMENT
    }};
    (@mysql) => {
        None
    };
    (@mysql $mysql:literal) => {
        Some($crate::store::sql!(@file $mysql))
    };
}

/// The values bound to a statement, `$1` first.
macro_rules! values {
    ($($value:expr),* $(,)?) => {
        [$($crate::store::statement::Value::from($value)),*]
    };
}

/// Counts one call to quire's database, for the metrics (what an open dashboard or a
/// busy API costs the database shows there).
pub(crate) fn count_statement() {
    metrics::counter!("quire_store_statements_total").increment(1);
}

/// `on_any_pool!` for a statement that reads, counted.
macro_rules! on_reader {
    ($store:expr, $pool:ident => $body:expr) => {{
        $crate::store::count_statement();
        $crate::on_any_pool!(&$store.db, $pool => $body)
    }};
}

/// `on_any_pool!` for a statement that writes: on SQLite it first takes this process's
/// turn to write (see [`Store`]). Counted.
macro_rules! on_writer {
    ($store:expr, $pool:ident => $body:expr) => {{
        $crate::store::count_statement();
        match &$store.db {
            $crate::db::Db::Sqlite($pool) => {
                let _turn = $store.sqlite_writer.lock().await;
                $body
            }
            $crate::db::Db::Postgres($pool) => $body,
            $crate::db::Db::Mysql($pool) => $body,
        }
    }};
}

/// Runs `$body` in a write transaction of `$store` bound to `$tx` and commits it when
/// `$body` succeeds. SQLite transactions start IMMEDIATE, so two writers never deadlock
/// on a lock upgrade, and the writers of this process take turns before they begin (see
/// [`Store`]).
macro_rules! in_write_tx {
    ($store:expr, $tx:ident => $body:expr) => {{
        $crate::store::count_statement();
        match &$store.db {
            $crate::db::Db::Sqlite(pool) => {
                let _turn = $store.sqlite_writer.lock().await;
                let mut $tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                let result = $body;
                $tx.commit().await?;
                result
            }
            $crate::db::Db::Postgres(pool) => {
                let mut $tx = pool.begin().await?;
                let result = $body;
                $tx.commit().await?;
                result
            }
            $crate::db::Db::Mysql(pool) => {
                let mut $tx = pool.begin().await?;
                let result = $body;
                $tx.commit().await?;
                result
            }
        }
    }};
}

pub(crate) use {in_write_tx, on_reader, on_writer, sql, values};

/// The store: quire's own database and the clock its timestamps come from.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    clock: Clock,
    /// SQLite allows one writer at a time. A writer that finds the lock taken waits in
    /// SQLite's busy handler, which sleeps for milliseconds between tries; under
    /// concurrent requests those sleeps, not the writes, set the pace. The writes of
    /// this process (`in_write_tx!`, `on_writer!`) queue here instead and start as the
    /// last one ends.
    sqlite_writer: Arc<tokio::sync::Mutex<()>>,
    /// SQLite's group commit of new runs, started with the first one.
    run_inserts: Arc<OnceLock<group_commit::RunInserts>>,
}

impl Store {
    /// A store on an opened, migrated database.
    pub fn new(db: Db, clock: Clock) -> Store {
        Store {
            db,
            clock,
            sqlite_writer: Arc::default(),
            run_inserts: Arc::default(),
        }
    }

    /// The underlying database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The clock timestamps come from.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// The group commit of new runs on this store's SQLite database `pool`.
    fn sqlite_inserts(&self, pool: &sqlx::SqlitePool) -> &group_commit::RunInserts {
        self.run_inserts.get_or_init(|| {
            group_commit::RunInserts::start(pool.clone(), Arc::clone(&self.sqlite_writer))
        })
    }

    /// Now on the store's clock (ms since the epoch).
    pub(crate) fn now_ms(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    /// Runs a `DELETE` whose one parameter is a cutoff time; returns the rows deleted.
    async fn prune(&self, delete: &'static Statement, cutoff_ms: i64) -> Result<u64, StoreError> {
        let deleted = on_writer!(self, pool => {
            delete
                .query(&values![cutoff_ms])
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(deleted)
    }

    /// Whether the database answers.
    ///
    /// # Errors
    /// When it does not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_reader!(self, pool => sql!("ping.sql").query(&[]).execute(pool).await.map(|done| done.rows_affected()))?;
        Ok(())
    }
}

/// Lowercase hex SHA-256 of `parts`, each followed by a NUL so that no two different
/// lists hash alike.
pub fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
        hasher.update([0]);
    }
    hex::encode(hasher.finalize())
}
