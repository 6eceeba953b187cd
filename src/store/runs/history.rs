//! What happened to runs over time: each run's job events (its attempts, the workers
//! that made them, the lock waits before them), and over the last hour the runs
//! completed and failed per minute and how long they waited and ran. The hour is read
//! off the `(finished_at, status)` index, so its cost follows the hour's runs, never
//! the table's.

use std::collections::BTreeMap;

use crate::store::{Store, StoreError, on_reader, on_writer, sql, values};

/// One committed change of a run's job.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RunEvent {
    /// When it was recorded (ms since the epoch).
    pub at: i64,
    /// `started`, `succeeded`, `retried`, `deferred`, `failed` or `dead`.
    pub kind: String,
    /// The attempt it belongs to (0 when none was involved).
    pub attempt: i32,
    /// The worker that committed it.
    pub worker: String,
    /// The client-facing reason: the error, or what the job waits for.
    pub detail: Option<String>,
    /// For a retry or a wait: how long the job waits (ms).
    pub delay_ms: Option<i64>,
}

/// Runs completed and failed in one minute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MinuteCounts {
    /// Runs that completed.
    pub completed: i64,
    /// Runs that failed.
    pub failed: i64,
}

/// The times of one completed run, for percentiles.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RunTimes {
    /// The report it built.
    pub report: String,
    /// When it was asked for (ms).
    pub created_at: i64,
    /// When the attempt that built it started (ms).
    pub started_at: i64,
    /// When it completed (ms).
    pub finished_at: i64,
}

impl Store {
    /// Appends `event` to run `run_id`'s history; a run whose row is gone gets none.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn record_run_event(&self, run_id: &str, event: &RunEvent) -> Result<(), StoreError> {
        on_writer!(self, pool => {
            sql!("runs/record_event.sql")
                .query(&values![run_id, event.at, event.kind.as_str(), i64::from(event.attempt), event.worker.as_str(), event.detail.as_deref(), event.delay_ms])
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(())
    }

    /// Run `run_id`'s history, oldest first.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn run_events(&self, run_id: &str) -> Result<Vec<RunEvent>, StoreError> {
        let events = on_reader!(self, pool => {
            sql!("runs/events.sql").query_as(&values![run_id]).fetch_all(pool).await
        })?;
        Ok(events)
    }

    /// Runs completed and failed per minute (minutes since the epoch) since `since_ms`;
    /// minutes without either are left out.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn activity(&self, since_ms: i64) -> Result<BTreeMap<i64, MinuteCounts>, StoreError> {
        let rows: Vec<(i64, String, i64)> = on_reader!(self, pool => {
            sql!("runs/activity.sql", mysql = "runs/activity.mysql.sql")
                .query_as(&values![since_ms])
                .fetch_all(pool)
                .await
        })?;
        let mut minutes = BTreeMap::<i64, MinuteCounts>::new();
        for (minute, status, runs) in rows {
            let counts = minutes.entry(minute).or_default();
            match status.as_str() {
                "completed" => counts.completed += runs,
                _ => counts.failed += runs,
            }
        }
        Ok(minutes)
    }

    /// The times of the latest `limit` runs completed since `since_ms`.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn completed_times(
        &self,
        since_ms: i64,
        limit: i64,
    ) -> Result<Vec<RunTimes>, StoreError> {
        let times = on_reader!(self, pool => {
            sql!("runs/timings.sql").query_as(&values![since_ms, limit]).fetch_all(pool).await
        })?;
        Ok(times)
    }
}
