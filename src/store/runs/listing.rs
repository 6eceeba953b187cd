//! Reading runs: one by id, a filtered page for the API, the unfinished ones for the
//! sweep.

use super::{Run, RunRow, RunStatus, decoded};
use crate::store::{Store, StoreError, on_reader, sql, values};
use crate::writer::Format;

/// Filters of `GET /v1/reports`.
#[derive(Debug, Clone, Default)]
pub struct RunQuery {
    /// Only this tenant's runs (`None`: every tenant, for admin keys).
    pub tenant: Option<String>,
    /// Only runs in this status; `None` for any.
    pub status: Option<RunStatus>,
    /// Only runs of this report; `None` for any.
    pub report: Option<String>,
    /// The most runs on the page; clamped to 1..=200.
    pub limit: i64,
    /// Only runs in this format; `None` for any.
    pub format: Option<Format>,
    /// Runs older than this id (ids sort by time, so a cursor or a time's id).
    pub before: Option<String>,
    /// Runs from this id on: with `before`, a time range read off the primary key.
    pub from: Option<String>,
}

/// The smallest run id minted at `ms` (ms since the epoch): run ids are UUIDv7, so
/// a time bound is an id bound, read off the primary key.
pub fn first_id_at(ms: i64) -> String {
    let ms = u64::try_from(ms).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(ms, &[0; 10])
        .into_uuid()
        .to_string()
}

/// One page of runs, newest first.
#[derive(Debug, Clone)]
pub struct RunPage {
    /// The page's runs, newest first.
    pub runs: Vec<Run>,
    /// Pass as `before` for the next page.
    pub next: Option<String>,
}

impl Store {
    /// The run `id`, if it exists.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn run(&self, id: &str) -> Result<Option<Run>, StoreError> {
        let row = on_reader!(self, pool => {
            sql!("runs/get.sql").query_as(&values![id]).fetch_optional(pool).await
        })?;
        decoded(row)
    }

    /// Runs newest first, filtered, one page at a time.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn list_runs(&self, query: &RunQuery) -> Result<RunPage, StoreError> {
        let limit = query.limit.clamp(1, 200);
        let statement = match query.tenant {
            Some(_) => sql!("runs/list_of_tenant.sql"),
            None => sql!("runs/list.sql"),
        };
        let rows: Vec<RunRow> = on_reader!(self, pool => {
            statement.query_as(&values![&query.tenant, query.status.map(RunStatus::as_str), &query.report, &query.before, limit + 1, query.format.map(Format::extension), &query.from])
                .fetch_all(pool)
                .await
        })?;
        let mut runs = rows
            .into_iter()
            .map(Run::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        let next = if runs.len() as i64 > limit {
            runs.truncate(limit as usize);
            runs.last().map(|run| run.id.clone())
        } else {
            None
        };
        Ok(RunPage { runs, next })
    }

    /// Runs still `queued` or `running`, oldest first: the sweep checks each has a job.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn active_runs(&self, limit: i64) -> Result<Vec<Run>, StoreError> {
        let rows: Vec<RunRow> = on_reader!(self, pool => {
            sql!("runs/active.sql").query_as(&values![limit]).fetch_all(pool).await
        })?;
        rows.into_iter().map(Run::try_from).collect()
    }

    /// How many of `tenant`'s runs wait in the queue.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn queued_runs(&self, tenant: &str) -> Result<i64, StoreError> {
        let count: i64 = on_reader!(self, pool => {
            sql!("runs/count_queued.sql").query_scalar(&values![tenant]).fetch_one(pool).await
        })?;
        Ok(count)
    }

    /// How many runs are in each status (statuses without runs left out).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn runs_by_status(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let counts = on_reader!(self, pool => {
            sql!("runs/count_by_status.sql").query_as(&values![]).fetch_all(pool).await
        })?;
        Ok(counts)
    }
}
