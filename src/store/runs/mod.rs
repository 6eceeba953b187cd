//! Report runs: the stored run and its status, and by concern the statements on
//! them: enqueue with deduplication, the fenced attempt lifecycle, the queries behind
//! the API, the history the dashboard shows, and retention.

mod attempts;
mod enqueue;
mod history;
mod listing;
mod retention;

pub use attempts::{Fence, StartOutcome};
pub(in crate::store) use enqueue::RunBinds;
pub use enqueue::{EnqueueOutcome, NewRun};
pub use history::{MinuteCounts, RunEvent, RunTimes};
pub use listing::{RunPage, RunQuery, first_id_at};

use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::catalog::ResolvedParams;
use crate::writer::{Format, OutputOptions};

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Waiting for a worker.
    Queued,
    /// An attempt is building the file.
    Running,
    /// The file is built and can be downloaded.
    Completed,
    /// Ended after an error, without a file.
    Failed,
    /// Ended unbuilt and set aside: its tenant no longer exists, or an operator forgot
    /// it after it failed.
    Discarded,
    /// Ended because someone cancelled it.
    Cancelled,
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl RunStatus {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Discarded => "discarded",
            RunStatus::Cancelled => "cancelled",
        }
    }

    /// Every status, in the order of a run's life.
    pub const ALL: [RunStatus; 6] = [
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Completed,
        RunStatus::Failed,
        RunStatus::Discarded,
        RunStatus::Cancelled,
    ];

    /// Parses a stored or requested status word.
    pub fn parse(text: &str) -> Option<RunStatus> {
        RunStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
    }

    /// Whether the run has reached its end.
    pub fn is_finished(self) -> bool {
        !matches!(self, RunStatus::Queued | RunStatus::Running)
    }
}

/// Why a run failed, was discarded or cancelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunError {
    /// A stable snake_case word.
    pub code: String,
    /// A message fit for the client: no SQL, no paths.
    pub message: String,
}

/// The file of a completed run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunFile {
    /// Where the file is on disk; never shown to clients.
    #[serde(skip)]
    pub path: String,
    /// Its size in bytes.
    pub bytes: i64,
    /// The SHA-256 of its contents, in lowercase hex.
    pub sha256: String,
    /// Data rows in it, the header row not counted.
    pub rows: i64,
}

/// One report run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    /// A UUID v7, so ids sort by creation time.
    pub id: String,
    /// The tenant's slug.
    pub tenant: String,
    /// The report's name.
    pub report: String,
    /// The file format.
    pub format: Format,
    /// The parameters as resolved at enqueue.
    pub params: ResolvedParams,
    /// The output options asked for.
    pub options: OutputOptions,
    /// SHA-256 of tenant, report, format, parameters and options; equal requests
    /// share it, and at most one queued or running run has each.
    #[serde(skip)]
    pub identity: String,
    /// Where the run is in its life.
    pub status: RunStatus,
    /// Attempts started so far.
    pub attempts: i64,
    /// Rows written so far by the current or last attempt.
    pub progress_rows: i64,
    /// The fencing token of the latest attempt, the only one allowed to record the
    /// outcome; `None` before the first attempt.
    #[serde(skip)]
    pub fence: Option<String>,
    /// Why it failed, was discarded or cancelled; `None` otherwise.
    pub error: Option<RunError>,
    /// The file of a completed run, until retention removes it.
    pub file: Option<RunFile>,
    /// The API key that asked for it; `None` when it came from the command line.
    #[serde(skip)]
    pub api_key_id: Option<String>,
    /// Milliseconds since the Unix epoch when it was asked for.
    pub created_at: i64,
    /// Milliseconds since the Unix epoch when its first attempt started.
    pub started_at: Option<i64>,
    /// Milliseconds since the Unix epoch when it ended.
    pub finished_at: Option<i64>,
    /// Milliseconds since the Unix epoch after which its file is deleted; set on
    /// completion.
    pub expires_at: Option<i64>,
}

/// A row of `runs` as every query reads it (`SELECT *`, `RETURNING *`).
#[derive(sqlx::FromRow)]
pub(in crate::store) struct RunRow {
    pub(in crate::store) id: String,
    tenant: String,
    report: String,
    format: String,
    params: String,
    options: String,
    identity: String,
    status: String,
    // INTEGER, which PostgreSQL decodes only as 32 bits.
    attempts: i32,
    progress_rows: i64,
    fence: Option<String>,
    error_code: Option<String>,
    error_message: Option<String>,
    file_path: Option<String>,
    file_bytes: Option<i64>,
    file_sha256: Option<String>,
    file_rows: Option<i64>,
    api_key_id: Option<String>,
    created_at: i64,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    expires_at: Option<i64>,
}

impl TryFrom<RunRow> for Run {
    type Error = StoreError;

    fn try_from(row: RunRow) -> Result<Run, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("run {}: {what}", row.id));
        let file = match (
            row.file_path,
            row.file_bytes,
            row.file_sha256,
            row.file_rows,
        ) {
            (Some(path), Some(bytes), Some(sha256), Some(rows)) => Some(RunFile {
                path,
                bytes,
                sha256,
                rows,
            }),
            _ => None,
        };
        Ok(Run {
            format: row.format.parse().map_err(|_| corrupt("format"))?,
            params: serde_json::from_str(&row.params).map_err(|_| corrupt("params"))?,
            options: serde_json::from_str(&row.options).map_err(|_| corrupt("options"))?,
            status: RunStatus::parse(&row.status).ok_or_else(|| corrupt("status"))?,
            error: row.error_code.map(|code| RunError {
                code,
                message: row.error_message.unwrap_or_default(),
            }),
            file,
            id: row.id,
            tenant: row.tenant,
            report: row.report,
            identity: row.identity,
            attempts: row.attempts.into(),
            progress_rows: row.progress_rows,
            fence: row.fence,
            api_key_id: row.api_key_id,
            created_at: row.created_at,
            started_at: row.started_at,
            finished_at: row.finished_at,
            expires_at: row.expires_at,
        })
    }
}

/// Whether `error` is a violated unique constraint.
fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// The run `row` decodes to, if a row was found.
fn decoded(row: Option<RunRow>) -> Result<Option<Run>, StoreError> {
    row.map(Run::try_from).transpose()
}
