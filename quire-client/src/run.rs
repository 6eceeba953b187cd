//! A run as the API shows it, in the client's own types. The server writes these
//! from its `wire::RunView`; a test of the server reads its JSON back through them, so
//! the two cannot drift apart unnoticed.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A report run: `GET /v1/reports/{id}` and every answer that shows one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// The run's id (UUID v7, so ids sort by time).
    pub id: String,
    /// The tenant's slug.
    pub tenant: String,
    /// The report's name in the catalog.
    pub report: String,
    /// The file format: `csv` or `xlsx`.
    pub format: String,
    /// Where the run is in its life.
    pub status: RunStatus,
    /// Attempts started.
    pub attempts: u32,
    /// Rows written so far.
    pub progress: Progress,
    /// Why it failed, was discarded or cancelled.
    pub error: Option<RunError>,
    /// The parameters as the server resolved them at enqueue (presets turned into
    /// dates, defaults filled in).
    pub params: Map<String, Value>,
    /// The output options asked for, such as `csv_bom`.
    pub options: Map<String, Value>,
    /// The file of a completed run.
    pub file: Option<RunFile>,
    /// When it was asked for (RFC 3339, UTC, milliseconds).
    pub created_at: Option<String>,
    /// When its first attempt started.
    pub started_at: Option<String>,
    /// When it ended.
    pub finished_at: Option<String>,
    /// Where to ask for it again.
    pub status_url: String,
    /// A freshly minted download URL (answers to an enqueue only; ask
    /// [`Client::link`](crate::Client::link) for another).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_url: Option<String>,
    /// Whether an existing run answered the enqueue (answers to an enqueue only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deduplicated: Option<bool>,
    /// Whether that run is a completed one reused within the request's reuse window
    /// (answers to an enqueue only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reused: Option<bool>,
}

impl Run {
    /// Whether the run has ended, well or not.
    pub fn is_finished(&self) -> bool {
        self.status.is_finished()
    }
}

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Waiting for a worker.
    Queued,
    /// An attempt is building the file.
    Running,
    /// The file is built and can be downloaded.
    Completed,
    /// Ended after an error, without a file; it can be retried.
    Failed,
    /// Ended unbuilt because its tenant no longer exists.
    Discarded,
    /// Ended because someone cancelled it.
    Cancelled,
}

impl RunStatus {
    /// The word the API uses.
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

    /// Whether a run in this state has ended.
    pub fn is_finished(self) -> bool {
        !matches!(self, RunStatus::Queued | RunStatus::Running)
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A run's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Rows written so far.
    pub rows: u64,
}

/// Why a run failed, was discarded or cancelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunError {
    /// A stable snake_case word, such as `report_failed`.
    pub code: String,
    /// A sentence for people.
    pub message: String,
}

/// The file of a completed run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunFile {
    /// Its size in bytes.
    pub bytes: u64,
    /// Its SHA-256, lowercase hex.
    pub sha256: String,
    /// Data rows in it, the header row not counted.
    pub rows: u64,
    /// When it stops being downloadable (RFC 3339, UTC).
    pub expires_at: Option<String>,
}

/// One page of `GET /v1/reports`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunPage {
    /// Newest first.
    pub runs: Vec<Run>,
    /// The cursor of the next page ([`RunFilter::cursor`](crate::RunFilter::cursor));
    /// `None` on the last.
    pub next_cursor: Option<String>,
}

/// A fresh download URL: `POST /v1/reports/{id}/links`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// The run's id.
    pub id: String,
    /// The URL; it needs no API key, so hand it only to whoever may have the file.
    pub download_url: String,
}
