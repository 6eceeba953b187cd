//! SQLite group commit for new runs. SQLite takes one writer at a time, and every
//! statement sqlx sends to a SQLite connection is a hand-off to that connection's
//! thread, a thread wake-up each way. Written one by one, enqueues spend most of their
//! turn at the write lock in those wake-ups. Here one task writes the enqueues waiting at
//! that moment in one query: BEGIN, the inserts of all their runs, COMMIT. Every enqueue
//! still gets its answer only once its run is committed.

use std::sync::Arc;

use sqlx::SqlitePool;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::runs::{RunBinds, RunRow, sqlite_insert_sql};

/// Enqueues written in one transaction at most.
const MAX_BATCH: usize = 64;

type Written = Result<Option<RunRow>, sqlx::Error>;

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
        let (pending, waiting) = mpsc::channel(MAX_BATCH * 16);
        tokio::spawn(write_batches(pool, writer_turn, waiting));
        RunInserts { pending }
    }

    /// Writes one new run with its token and idempotency key; the row as stored, or
    /// none when an identical run is queued or running. A request dropped meanwhile
    /// cannot stop its transaction halfway: the task owns it.
    pub(super) async fn insert(&self, binds: RunBinds) -> Written {
        let (answer, written) = oneshot::channel();
        self.pending
            .send(Pending { binds, answer })
            .await
            .map_err(|_| sqlx::Error::WorkerCrashed)?;
        written.await.map_err(|_| sqlx::Error::WorkerCrashed)?
    }
}

async fn write_batches(
    pool: SqlitePool,
    writer_turn: Arc<Mutex<()>>,
    mut waiting: mpsc::Receiver<Pending>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while waiting.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match write(&pool, &writer_turn, &batch).await {
            Ok(mut rows) => {
                for pending in batch.drain(..) {
                    let row = rows
                        .iter()
                        .position(|row| row.id == pending.binds.id)
                        .map(|at| rows.swap_remove(at));
                    let _ = pending.answer.send(Ok(row));
                }
            }
            Err(error) if batch.len() == 1 => {
                let _ = batch.remove(0).answer.send(Err(error));
            }
            // One enqueue's failure (a concurrent use of its idempotency key, say) must
            // not fail the others: each is written again on its own.
            Err(_) => {
                for pending in batch.drain(..) {
                    let written = write(&pool, &writer_turn, std::slice::from_ref(&pending))
                        .await
                        .map(|mut rows| rows.pop());
                    let _ = pending.answer.send(written);
                }
            }
        }
    }
}

/// Writes `batch` in one transaction, in this process's turn to write; the rows of the
/// runs inserted.
async fn write(
    pool: &SqlitePool,
    writer_turn: &Mutex<()>,
    batch: &[Pending],
) -> Result<Vec<RunRow>, sqlx::Error> {
    let sql = format!("BEGIN IMMEDIATE; {}; COMMIT", sqlite_insert_sql());
    let runs: Vec<&RunBinds> = batch.iter().map(|pending| &pending.binds).collect();
    let runs = serde_json::to_string(&runs).expect("run binds serialize");
    let _turn = writer_turn.lock().await;
    let mut conn = pool.acquire().await?;
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(runs)
        .fetch_all(&mut *conn)
        .await;
    if rows.is_err() && sqlx::query("ROLLBACK").execute(&mut *conn).await.is_err() {
        // Nothing to roll back (BEGIN itself failed) or a broken connection: in doubt,
        // it does not go back to the pool.
        let _ = conn.close().await;
    }
    rows
}
