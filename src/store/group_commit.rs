//! SQLite group commit for new runs. SQLite takes one writer at a time, and every
//! statement sqlx sends to a SQLite connection is a hand-off to that connection's
//! thread, a thread wake-up each way. Written one by one, enqueues spend most of their
//! turn at the write lock in those wake-ups. Here one task writes the enqueues waiting at
//! that moment in one query: BEGIN, the inserts of all their runs, COMMIT. Every enqueue
//! still gets its answer only once its run is committed.

use std::sync::Arc;

use sqlx::SqlitePool;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::StoreError;
use super::runs::{RunBinds, RunRow};
use super::{sql, values};

/// Enqueues written in one transaction at most.
const MAX_BATCH: usize = 64;

/// SQLite's primary result code for a violated constraint (unique, trigger, ...).
const SQLITE_CONSTRAINT: i32 = 19;

type Written = Result<Option<RunRow>, StoreError>;

/// One enqueue waiting for its transaction.
struct Pending {
    binds: RunBinds,
    answer: oneshot::Sender<Written>,
}

/// The sending side of the task that writes new runs on one SQLite database.
#[derive(Debug)]
pub(super) struct RunInserts {
    pending: mpsc::Sender<Pending>,
}

impl RunInserts {
    /// Starts the writing task on `pool`; it takes `writer_turn` for each transaction,
    /// as every SQLite write of this process does, and ends once this is dropped.
    pub(super) fn start(pool: SqlitePool, writer_turn: Arc<Mutex<()>>) -> RunInserts {
        let (pending, mut waiting) = mpsc::channel(MAX_BATCH * 16);
        tokio::spawn(async move {
            let mut batch = Vec::new();
            while waiting.recv_many(&mut batch, MAX_BATCH).await > 0 {
                write_batch(&pool, &writer_turn, std::mem::take(&mut batch)).await;
            }
        });
        RunInserts { pending }
    }

    /// Writes one new run with its token and idempotency key; the row as stored, or
    /// none when an identical run is queued or running. Once sent, the run is written
    /// whether or not the caller still waits (see `Runs::enqueue`).
    pub(super) async fn insert(&self, binds: RunBinds) -> Written {
        let (answer, written) = oneshot::channel();
        let task_gone = || StoreError::Unavailable(sqlx::Error::WorkerCrashed);
        self.pending
            .send(Pending { binds, answer })
            .await
            .map_err(|_| task_gone())?;
        written.await.map_err(|_| task_gone())?
    }
}

/// Writes `batch` in one transaction and answers each of its enqueues.
async fn write_batch(pool: &SqlitePool, writer_turn: &Mutex<()>, mut batch: Vec<Pending>) {
    match write(pool, writer_turn, &batch).await {
        Ok(mut rows) => {
            for pending in batch {
                let row = rows
                    .iter()
                    .position(|row| row.id == pending.binds.id)
                    .map(|at| rows.swap_remove(at));
                let _ = pending.answer.send(Ok(row));
            }
        }
        Err(error) if batch.len() == 1 => {
            let _ = batch.remove(0).answer.send(Err(error.into()));
        }
        // One enqueue's violated constraint (a concurrent use of its idempotency key,
        // say) must not fail the others: each is written again on its own.
        Err(error) if is_constraint_violation(&error) => {
            for pending in batch {
                let written = write(pool, writer_turn, std::slice::from_ref(&pending))
                    .await
                    .map(|mut rows| rows.pop())
                    .map_err(StoreError::from);
                let _ = pending.answer.send(written);
            }
        }
        // Anything else (the write lock not free in time, the database gone) would
        // fail each of them again, one wait after another: they share the error.
        Err(error) => {
            let error = Arc::new(error);
            for pending in batch {
                let shared = StoreError::UnavailableForBatch(Arc::clone(&error));
                let _ = pending.answer.send(Err(shared));
            }
        }
    }
}

fn is_constraint_violation(error: &sqlx::Error) -> bool {
    let code = match error {
        sqlx::Error::Database(database) => database.code(),
        _ => None,
    };
    // Extended result codes keep the primary code in their low byte.
    code.and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| code & 0xff == SQLITE_CONSTRAINT)
}

/// Writes `batch` in one transaction, in this process's turn to write; the rows of the
/// runs inserted.
async fn write(
    pool: &SqlitePool,
    writer_turn: &Mutex<()>,
    batch: &[Pending],
) -> Result<Vec<RunRow>, sqlx::Error> {
    let runs: Vec<&RunBinds> = batch.iter().map(|pending| &pending.binds).collect();
    let runs = serde_json::to_string(&runs).expect("run binds serialize");
    let _turn = writer_turn.lock().await;
    let mut conn = pool.acquire().await?;
    let rows = sql!("runs/insert.sqlite.sql")
        .query_as(&values![&runs])
        .fetch_all(&mut *conn)
        .await;
    if rows.is_err() {
        // The database answering the ROLLBACK, even with "no transaction is active"
        // (BEGIN itself failed), shows the connection usable and outside a transaction;
        // any other failure leaves that in doubt, and the connection is closed.
        let rolled_back = sqlx::query("ROLLBACK").execute(&mut *conn).await;
        if let Err(error) = rolled_back
            && !matches!(error, sqlx::Error::Database(_))
        {
            let _ = conn.close().await;
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::catalog::ResolvedParams;
    use crate::db::Db;
    use crate::names::{IdempotencyKey, ReportName, TenantSlug};
    use crate::store::NewRun;
    use crate::writer::{Format, OutputOptions};

    /// A request for run `n` under the idempotency key `key`.
    fn binds(n: i64, key: &str) -> RunBinds {
        let new = NewRun {
            tenant: TenantSlug::parse("acme").unwrap(),
            report: ReportName::parse("invoices").unwrap(),
            format: Format::Csv,
            params: ResolvedParams(BTreeMap::from([("n".to_owned(), n.into())])),
            options: OutputOptions::default(),
            api_key_id: None,
            idempotency: Some((IdempotencyKey::parse(key).unwrap(), format!("request {n}"))),
            reuse: None,
        };
        RunBinds::new(&new, &new.identity(), 1_000, format!("token {n}"), 60_000)
    }

    #[tokio::test]
    async fn a_batch_with_a_violated_constraint_commits_every_other_enqueue() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("quire.db").display());
        let db = Db::connect(&url, 2).await.unwrap();
        db.migrate().await.unwrap();
        let Db::Sqlite(pool) = &db else {
            unreachable!("a sqlite URL opens a SQLite pool")
        };
        // The third reuses the second's key for another request: the batch fails on the
        // key's unique index, and only the third may fail with it.
        let mut answers = Vec::new();
        let batch = [
            binds(1, "k-1"),
            binds(2, "k-2"),
            binds(3, "k-2"),
            binds(4, "k-4"),
        ]
        .into_iter()
        .map(|binds| {
            let (answer, written) = oneshot::channel();
            answers.push(written);
            Pending { binds, answer }
        })
        .collect();
        write_batch(pool, &Mutex::new(()), batch).await;

        let mut outcomes = Vec::new();
        for written in answers {
            outcomes.push(match written.await.unwrap() {
                Ok(Some(_)) => "inserted".to_owned(),
                Ok(None) => "conflict".to_owned(),
                Err(StoreError::Unavailable(sqlx::Error::Database(error))) => {
                    format!("{:?}", error.kind())
                }
                Err(other) => panic!("unexpected error {other}"),
            });
        }
        assert_eq!(
            outcomes,
            ["inserted", "inserted", "UniqueViolation", "inserted"]
        );
        for table in [
            "quire_runs",
            "quire_download_tokens",
            "quire_idempotency_keys",
        ] {
            let rows: i64 =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                    .fetch_one(pool)
                    .await
                    .unwrap();
            assert_eq!(rows, 3, "{table}");
        }
    }
}
