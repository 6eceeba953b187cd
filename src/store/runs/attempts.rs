//! The fenced attempt lifecycle: start, progress, and the end of a run (completed,
//! failed, discarded or cancelled), each guarded so that a stale writer changes nothing.

use super::{Run, RunError, RunFile, RunStatus, is_unique_violation};
use crate::store::{Store, StoreError, in_write_tx, on_writer, sql, values};

/// Who may end a run: the guard on [`Store::finish_run`].
#[derive(Debug, Clone, Copy)]
pub enum Fence<'a> {
    /// Only the attempt holding this fencing token (the handler's own outcome).
    Token(&'a str),
    /// Only while the run has started exactly this many attempts. A job's death seen
    /// in Redis ends the run only if the run was not retried since: a retry resets
    /// the count.
    Attempts(i64),
    /// Any writer, while the run has not finished (a cancel).
    Unfinished,
}

/// The outcome of starting an attempt.
#[derive(Debug, Clone)]
pub enum StartOutcome {
    /// The run is now `running`, fenced by this attempt.
    Started(Run),
    /// The row is gone.
    Missing,
    /// The run already ended (completed, cancelled, ...): nothing to build.
    Finished(Run),
    /// An attempt with a newer token holds the run: this one stands down.
    Superseded(Run),
}

/// Runs `$update`, the statement that ends run `$id` at `$now`, in a write transaction
/// of `$store` and, when it changed the run, queues the run's webhook in the same
/// transaction: a run never ends without its delivery, nor a delivery without its end.
/// True when the run changed.
macro_rules! end_run {
    ($store:expr, $id:expr, $now:expr, $update:expr) => {{
        let updated = in_write_tx!($store, tx => {
            let updated = $update.execute(&mut *tx).await?.rows_affected();
            if updated == 1 {
                crate::store::webhooks::queue_webhook!(tx, $id, $now);
            }
            updated
        });
        Ok(updated == 1)
    }};
}

impl Store {
    /// Starts an attempt: the run becomes `running`, fenced by `token`, with
    /// `attempt` recorded. A newer attempt's token replaces an earlier one's, which
    /// is what locks a stale worker out; an older token changes nothing.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn start_attempt(
        &self,
        id: &str,
        token: &str,
        attempt: i64,
    ) -> Result<StartOutcome, StoreError> {
        let now = self.now_ms();
        let updated = on_writer!(self, pool => {
            sql!("runs/start_attempt.sql").query(&values![id, token, attempt, now])
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        let run = self.run(id).await?;
        Ok(match run {
            None => StartOutcome::Missing,
            Some(run) if updated == 0 && run.status.is_finished() => StartOutcome::Finished(run),
            Some(run) if updated == 0 => StartOutcome::Superseded(run),
            Some(run) => StartOutcome::Started(run),
        })
    }

    /// Records progress of the attempt holding `token`; false when that attempt no
    /// longer holds a running run (cancelled, or taken over).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn record_progress(
        &self,
        id: &str,
        token: &str,
        rows: i64,
    ) -> Result<bool, StoreError> {
        let updated = on_writer!(self, pool => {
            sql!("runs/record_progress.sql").query(&values![id, token, rows])
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(updated == 1)
    }

    /// Marks the run completed with `file`, only if the attempt holding `token` is
    /// still the run's attempt; queues the completion webhook in the same
    /// transaction. Returns false when the attempt was fenced out.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn complete_run(
        &self,
        id: &str,
        token: &str,
        file: &RunFile,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let now = self.now_ms();
        end_run!(
            self,
            id,
            now,
            sql!("runs/complete.sql").query(&values![
                id,
                token,
                now,
                expires_at,
                &file.path,
                file.bytes,
                &file.sha256,
                file.rows
            ])
        )
    }

    /// Ends the run with `status` (failed, discarded or cancelled) and `error`, only
    /// while it has not finished and `fence` still holds. Returns false when nothing
    /// changed.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn finish_run(
        &self,
        id: &str,
        fence: Fence<'_>,
        status: RunStatus,
        error: &RunError,
    ) -> Result<bool, StoreError> {
        debug_assert!(status.is_finished() && status != RunStatus::Completed);
        let now = self.now_ms();
        let (token, attempts) = match fence {
            Fence::Token(token) => (Some(token), None),
            Fence::Attempts(attempts) => (None, Some(attempts)),
            Fence::Unfinished => (None, None),
        };
        end_run!(
            self,
            id,
            now,
            sql!("runs/finish.sql").query(&values![
                id,
                token,
                status.as_str(),
                &error.code,
                &error.message,
                now,
                attempts
            ])
        )
    }

    /// Puts a failed run back in the queue under the same id, attempts reset. Returns
    /// the run; `None` when it does not exist. A run that is not failed is returned
    /// unchanged (a second retry while queued is a no-op).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn requeue_failed(&self, id: &str) -> Result<Option<(Run, bool)>, StoreError> {
        let updated = on_writer!(self, pool => {
            sql!("runs/requeue_failed.sql").query(&values![id])
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        });
        let requeued = match updated {
            Ok(rows) => rows == 1,
            // An identical run is already queued: leave this one failed.
            Err(error) if is_unique_violation(&error) => false,
            Err(error) => return Err(error.into()),
        };
        Ok(self.run(id).await?.map(|run| (run, requeued)))
    }

    /// Sets failed run `id` aside (discarded, `forgotten`); false when it is not
    /// failed (already forgotten, retried meanwhile, or never failed).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn forget_failed(&self, id: &str) -> Result<bool, StoreError> {
        let updated = on_writer!(self, pool => {
            sql!("runs/forget_failed.sql").query(&values![id])
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(updated == 1)
    }
}
