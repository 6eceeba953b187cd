//! The JSON a run travels as, written once: the API's answers and the completion
//! webhook's `run`. The Rust client (`quire-client`) reads it into its own types; a
//! test below reads a run back through them, so the two cannot drift apart unnoticed.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::store::{Run, RunError, RunStatus};
use crate::writer::{Format, OutputOptions};

/// A run as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = Run)]
pub struct RunView {
    /// The run's id (UUID v7).
    pub id: String,
    /// The tenant's slug.
    pub tenant: String,
    /// The report's name.
    pub report: String,
    /// The file format.
    pub format: Format,
    /// Where the run is in its life.
    pub status: RunStatus,
    /// Attempts started.
    pub attempts: i64,
    /// Rows written so far.
    pub progress: Progress,
    /// Why it failed, was discarded or cancelled.
    pub error: Option<RunError>,
    /// The parameters as resolved at enqueue.
    #[schema(value_type = Object)]
    pub params: Map<String, Value>,
    /// The output options asked for.
    pub options: OutputOptions,
    /// The file of a completed run.
    pub file: Option<FileView>,
    /// When it was asked for.
    #[serde(serialize_with = "rfc3339_millis")]
    pub created_at: Option<DateTime<Utc>>,
    /// When its first attempt started.
    #[serde(serialize_with = "rfc3339_millis")]
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    #[serde(serialize_with = "rfc3339_millis")]
    pub finished_at: Option<DateTime<Utc>>,
    /// Where to ask for it again.
    pub status_url: String,
    /// A freshly minted download URL (answers to `POST /v1/reports` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_url: Option<String>,
    /// Whether an existing run was returned (answers to `POST /v1/reports` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deduplicated: Option<bool>,
    /// Whether that run is a completed one reused within the request's reuse window
    /// (answers to `POST /v1/reports` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reused: Option<bool>,
}

/// A run's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Progress {
    /// Rows written so far.
    pub rows: i64,
}

/// The file of a completed run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = File)]
pub struct FileView {
    /// Its size.
    pub bytes: i64,
    /// Its SHA-256, hex.
    pub sha256: String,
    /// Data rows in it.
    pub rows: i64,
    /// When it stops being downloadable.
    #[serde(serialize_with = "rfc3339_millis")]
    pub expires_at: Option<DateTime<Utc>>,
}

impl RunView {
    /// How `run` is shown to clients of the API at `public_url`.
    pub fn new(public_url: &str, run: &Run) -> RunView {
        let time = DateTime::<Utc>::from_timestamp_millis;
        let params = run
            .params
            .0
            .iter()
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        RunView {
            id: run.id.clone(),
            tenant: run.tenant.clone(),
            report: run.report.clone(),
            format: run.format,
            status: run.status,
            attempts: run.attempts,
            progress: Progress {
                rows: run.progress_rows,
            },
            error: run.error.clone(),
            params,
            options: run.options,
            file: run.file.as_ref().map(|file| FileView {
                bytes: file.bytes,
                sha256: file.sha256.clone(),
                rows: file.rows,
                expires_at: run.expires_at.and_then(time),
            }),
            created_at: time(run.created_at),
            started_at: run.started_at.and_then(time),
            finished_at: run.finished_at.and_then(time),
            status_url: format!("{public_url}/v1/reports/{}", run.id),
            download_url: None,
            deduplicated: None,
            reused: None,
        }
    }
}

/// A queue paused or resumed, as `POST /v1/queues/{name}/pause` (or `/resume`) and
/// `quire queues pause|resume --json` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QueueState {
    /// The queue's name.
    pub queue: String,
    /// Whether workers are now kept from taking its jobs.
    pub paused: bool,
    /// Whether this call changed it (`false`: it already was so).
    pub changed: bool,
}

impl QueueState {
    /// Pauses or resumes `queue` through `queues`.
    ///
    /// # Errors
    /// Redis failing.
    pub async fn set(
        queues: &crate::queue::Queue,
        queue: &str,
        paused: bool,
    ) -> Result<QueueState, crate::queue::QueueError> {
        let changed = queues.set_paused(queue, paused).await?;
        Ok(QueueState {
            queue: queue.to_owned(),
            paused,
            changed,
        })
    }
}

/// What the queues hold, as `GET /v1/queues` and `quire queues list --json` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QueuesView {
    /// Every queue, by name.
    pub queues: Vec<QueueView>,
    /// Runs building now per tenant, most first.
    pub running_by_tenant: Vec<TenantCount>,
    /// Jobs waiting for their due time (retries and deferrals), in all queues.
    pub delayed: u64,
    /// Jobs running now, in all queues.
    pub running: u64,
    /// Jobs waiting for a lock, in all queues.
    pub parked: u64,
    /// Jobs in the dead set.
    pub dead: u64,
}

/// One queue's ready jobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QueueView {
    /// The queue's name.
    pub name: String,
    /// Jobs ready to run.
    pub ready: u64,
    /// Tenants with ready jobs; they take turns.
    pub tenants_waiting: u64,
    /// The tenants with the most ready jobs, most first.
    pub top_tenants: Vec<TenantCount>,
    /// Whether workers are kept from taking its jobs (`quire queues pause`).
    pub paused: bool,
    /// Its jobs running now.
    pub running: u64,
}

/// A count for one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TenantCount {
    /// The tenant's slug; `null` for jobs queued without fair scheduling.
    pub tenant: Option<String>,
    /// How many.
    pub count: u64,
}

impl QueuesView {
    /// What `queue` holds now, listing the `top` tenants with the most ready runs.
    ///
    /// # Errors
    /// Redis failing.
    pub async fn read(
        queue: &crate::queue::Queue,
        top: usize,
    ) -> Result<QueuesView, crate::queue::QueueError> {
        Ok(QueuesView::new(queue.loads(top).await?))
    }

    /// The view of the queue's `loads`.
    fn new(loads: crate::queue::Loads) -> QueuesView {
        let tenant_counts = |pairs: Vec<(String, u64)>| {
            pairs
                .into_iter()
                .map(|(key, count)| TenantCount {
                    tenant: (!key.is_empty()).then_some(key),
                    count,
                })
                .collect()
        };
        QueuesView {
            queues: loads
                .queues
                .into_iter()
                .map(|load| QueueView {
                    name: load.queue,
                    ready: load.ready,
                    tenants_waiting: load.keys_waiting,
                    top_tenants: tenant_counts(load.top),
                    paused: load.paused,
                    running: load.running,
                })
                .collect(),
            running_by_tenant: tenant_counts(loads.running),
            delayed: loads.delayed,
            running: loads.reserved,
            parked: loads.parked,
            dead: loads.dead,
        }
    }
}

/// Times as RFC 3339 in UTC with milliseconds, the precision quire stores.
fn rfc3339_millis<S: Serializer>(
    time: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => serializer.serialize_str(&time.to_rfc3339_opts(SecondsFormat::Millis, true)),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::CsvDelimiter;

    /// A run with every field filled, as no real run is, so that each one is read.
    fn full_view(status: RunStatus) -> RunView {
        let mut params = Map::new();
        params.insert("period".into(), "custom".into());
        params.insert("start_date".into(), "2026-01-01".into());
        params.insert("client_ids".into(), serde_json::json!([3, 7]));
        RunView {
            id: "0190".into(),
            tenant: "acme".into(),
            report: "clients".into(),
            format: Format::Xlsx,
            status,
            attempts: 2,
            progress: Progress { rows: 7 },
            error: Some(RunError {
                code: "report_failed".into(),
                message: "the report could not be built".into(),
            }),
            params,
            options: OutputOptions {
                csv_bom: true,
                csv_delimiter: Some(CsvDelimiter::Semicolon),
                csv_decimal: None,
            },
            file: Some(FileView {
                bytes: 10,
                sha256: "ab".into(),
                rows: 7,
                expires_at: DateTime::from_timestamp_millis(1_780_000_000_123),
            }),
            created_at: DateTime::from_timestamp_millis(1_780_000_000_000),
            started_at: DateTime::from_timestamp_millis(1_780_000_000_001),
            finished_at: None,
            status_url: "http://q/v1/reports/0190".into(),
            download_url: Some("http://q/v1/downloads/t".into()),
            deduplicated: Some(false),
            reused: Some(true),
        }
    }

    #[test]
    fn times_are_written_in_utc_with_milliseconds() {
        let text = serde_json::to_string(&full_view(RunStatus::Completed)).unwrap();
        assert!(
            text.contains(r#""expires_at":"2026-05-28T20:26:40.123Z""#),
            "{text}"
        );
    }

    /// The client's `Run` must hold every field the server writes, under the same
    /// name and with the same value: written back, it gives the server's JSON again.
    #[test]
    fn the_clients_run_reads_the_servers_json_of_a_run_field_for_field() {
        for status in RunStatus::ALL {
            let mut view = full_view(status);
            let server = serde_json::to_value(&view).unwrap();
            let run: quire_client::Run = serde_json::from_value(server.clone()).unwrap();
            assert_eq!(run.status.as_str(), status.as_str());
            assert_eq!(serde_json::to_value(&run).unwrap(), server);

            // The fields only an enqueue answer has, and those only some runs have.
            (view.download_url, view.deduplicated, view.reused) = (None, None, None);
            (view.error, view.file, view.started_at) = (None, None, None);
            let server = serde_json::to_value(&view).unwrap();
            let run: quire_client::Run = serde_json::from_value(server.clone()).unwrap();
            assert_eq!(serde_json::to_value(&run).unwrap(), server);
        }
    }
}
