//! What every way of reading a report query shares: the query itself, how it fails
//! (and whether a failure is worth retrying), and the batches its rows travel in.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::catalog::sql::BoundSql;
use crate::catalog::{BindValue, Column, ColumnType};
use crate::writer::Cell;

/// Rows travel to the writer in batches, so the channel costs little per row.
pub(super) const BATCH_ROWS: usize = 1024;

/// A failure reading report rows.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The database rejected the query or the connection failed.
    #[error("the report query failed: {0}")]
    Query(#[from] sqlx::Error),
    /// A value does not fit the type its column declares.
    #[error("column {column:?} cannot be read as {expected:?}: {found}")]
    Decode {
        /// The column's name.
        column: String,
        /// The type the definition declares for it.
        expected: ColumnType,
        /// The database type found, or what is wrong with the value.
        found: String,
    },
    /// The query returns a different number of columns than the definition declares.
    #[error("the query returns {found} columns but the definition declares {declared}")]
    ColumnCount {
        /// Columns in the query's result.
        found: usize,
        /// Columns in the definition.
        declared: usize,
    },
    /// The writer hung up before every row was sent.
    #[error("the writer stopped before the query ended")]
    WriterGone,
    /// The PostgreSQL COPY stream is malformed; says how.
    #[error("{0}")]
    Copy(String),
}

impl SourceError {
    /// Whether the database stopped the query at its statement timeout: PostgreSQL's
    /// query_canceled, MariaDB's max_statement_time, MySQL's max_execution_time.
    pub fn is_statement_timeout(&self) -> bool {
        let SourceError::Query(sqlx::Error::Database(db)) = self else {
            return false;
        };
        db.code().as_deref() == Some("57014")
            || matches!(mysql_error_number(db.as_ref()), Some(1969 | 3024))
    }

    /// Whether retrying can help: lost connections and timeouts can; errors in the
    /// definition's SQL or its declared types cannot.
    pub fn is_transient(&self) -> bool {
        match self {
            SourceError::Query(error) => is_transient_sql(error),
            SourceError::Decode { .. } | SourceError::ColumnCount { .. } | SourceError::Copy(_) => {
                false
            }
            SourceError::WriterGone => true,
        }
    }
}

/// MySQL's own number of a database error, when it comes from MySQL.
fn mysql_error_number(error: &dyn sqlx::error::DatabaseError) -> Option<u16> {
    error
        .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
        .map(sqlx::mysql::MySqlDatabaseError::number)
}

/// Whether an SQL error comes from the environment rather than from the query itself:
/// an unreachable database (see [`crate::db::is_unreachable`]), or one that refused the
/// statement for now.
pub fn is_transient_sql(error: &sqlx::Error) -> bool {
    if crate::db::is_unreachable(error) {
        return true;
    }
    match error {
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // SQLite: BUSY and LOCKED. PostgreSQL and MySQL: serialization failures and
            // deadlocks, statement timeouts, operator intervention (MySQL's 70100: a
            // query or connection killed).
            matches!(code.as_ref(), "5" | "6" | "517" | "262" | "70100")
                || code.starts_with("40")
                || code.starts_with("53")
                || code.starts_with("57")
                // MySQL's lock wait timeout, too many connections, connection killed,
                // max_execution_time, which share other states.
                || matches!(mysql_error_number(db.as_ref()), Some(1205 | 1040 | 1927 | 3024))
        }
        sqlx::Error::Protocol(_) | sqlx::Error::PoolClosed => true,
        _ => false,
    }
}

/// One report query: its SQL, its binds, the declared columns it returns, and which of
/// them (in which order) each row is read as: the output's, then any the writer needs
/// besides (a currency column the output leaves out).
pub(super) struct Query<'a> {
    pub sql: &'a BoundSql,
    pub binds: &'a BTreeMap<String, BindValue>,
    pub columns: &'a [Column],
    pub selected: &'a [usize],
    pub timeout: Duration,
    /// Read PostgreSQL results through the binary COPY fast path when it applies (see
    /// [`super::copy`]).
    pub copy: bool,
}

/// How many rows a query sent, and whether they came through the COPY fast path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Streamed {
    pub rows: u64,
    pub copied: bool,
}

/// Rows on their way to the writer, sent a full batch at a time.
pub(super) struct Batches {
    sender: mpsc::Sender<Vec<Vec<Cell>>>,
    pending: Vec<Vec<Cell>>,
    sent: u64,
}

impl Batches {
    pub(super) fn new(sender: mpsc::Sender<Vec<Vec<Cell>>>) -> Batches {
        Batches {
            sender,
            pending: Vec::with_capacity(BATCH_ROWS),
            sent: 0,
        }
    }

    /// The rows not sent yet; readers push decoded rows here.
    pub(super) fn pending(&mut self) -> &mut Vec<Vec<Cell>> {
        &mut self.pending
    }

    /// Sends the pending rows once they fill a batch.
    pub(super) async fn send_if_full(&mut self) -> Result<(), SourceError> {
        if self.pending.len() >= BATCH_ROWS {
            let full = std::mem::replace(&mut self.pending, Vec::with_capacity(BATCH_ROWS));
            self.send(full).await?;
        }
        Ok(())
    }

    /// Sends what is left and returns how many rows went out.
    pub(super) async fn finish(mut self) -> Result<u64, SourceError> {
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            self.send(rest).await?;
        }
        Ok(self.sent)
    }

    async fn send(&mut self, batch: Vec<Vec<Cell>>) -> Result<(), SourceError> {
        self.sent += batch.len() as u64;
        self.sender
            .send(batch)
            .await
            .map_err(|_| SourceError::WriterGone)
    }
}
