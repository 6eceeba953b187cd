//! The Prometheus side: the recorder with histogram buckets and every metric's help,
//! HTTP request counts by route and status, and the `/metrics` listener of `quire work`.

use std::sync::OnceLock;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

use super::AppState;

/// Buckets of every `*_seconds` histogram: from a small report's few milliseconds to a
/// large one's minutes.
const SECONDS_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0,
];
/// Buckets of the rows per report file.
const ROWS_BUCKETS: &[f64] = &[
    10.0,
    100.0,
    1_000.0,
    10_000.0,
    100_000.0,
    1_000_000.0,
    10_000_000.0,
];

/// The process's Prometheus recorder, installed on first use, with every metric
/// described (their `# HELP`) and histograms as histograms, not summaries.
pub(crate) fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("quire_report_rows".into()),
                        ROWS_BUCKETS,
                    )
                })
                .expect("the buckets are not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder (a test's) may already be global; ours still renders.
            let _ = metrics::set_global_recorder(recorder);
            describe();
            handle
        })
        .clone()
}

/// The help text of every metric quire records.
fn describe() {
    use metrics::{describe_counter, describe_histogram};
    describe_counter!(
        "quire_runs_enqueued_total",
        "Report requests accepted, by whether an existing run answered them."
    );
    describe_counter!(
        "quire_job_events_total",
        "Job lifecycle events seen by the worker's observers, by event."
    );
    describe_counter!(
        "quire_job_events_dropped_total",
        "Job events dropped because an observer fell behind."
    );
    describe_counter!(
        "quire_job_attempts_total",
        "Attempts started (locks held, handler running), by job kind; how they ended is in quire_job_events_total."
    );
    describe_counter!(
        "quire_store_statements_total",
        "Statements and transactions sent to quire's own database (what the API, the dashboard and the workers cost it)."
    );
    describe_counter!(
        "quire_lock_waits_total",
        "Times a job found its lock busy and waited without spending an attempt, by lock (unique or overlap)."
    );
    describe_histogram!(
        "quire_report_seconds",
        metrics::Unit::Seconds,
        "Time to build a report file, by report and format."
    );
    describe_histogram!(
        "quire_report_rows",
        "Rows in a built report file, by report and format."
    );
    describe_counter!(
        "quire_report_rows_total",
        "Rows written into report files, by report and format."
    );
    describe_histogram!(
        "quire_run_wait_seconds",
        metrics::Unit::Seconds,
        "Time from a run's enqueue to the start of its first attempt, by report."
    );
    describe_counter!(
        "quire_http_requests_total",
        "HTTP requests answered, by route template and status."
    );
    describe_histogram!(
        "quire_http_request_seconds",
        metrics::Unit::Seconds,
        "Time to answer an HTTP request, by route template."
    );
}

/// Counts each request by its route template (never its path, which holds tokens)
/// and status, and times it.
pub(super) async fn count_requests(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!("quire_http_request_seconds", "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!("quire_http_requests_total", "route" => route, "status" => status)
        .increment(1);
    response
}

/// Serves `/metrics` alone on `listener` until `shutdown`: the worker's listener.
///
/// # Errors
/// When the listener fails.
pub(crate) async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = Router::new()
        .route("/metrics", get(super::health::metrics))
        .with_state(state);
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
