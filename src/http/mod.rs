//! The HTTP API of SPEC §3 on axum: report runs, downloads, the catalog, health and
//! metrics; and the dashboard, whose pages call the same functions.

mod auth;
mod dashboard;
mod downloads;
mod error;
mod health;
pub(crate) mod metrics;
mod openapi;
mod queues;
mod reports;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::http::header;
use axum::routing::get;
use axum::serve::ListenerExt as _;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) use dashboard::REFRESH as DASHBOARD_REFRESH;
pub(crate) use error::ApiError;

use crate::runs::Runs;
use crate::settings::Limits;

/// Largest accepted request body.
const BODY_LIMIT: usize = 64 * 1024;

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    pub runs: Runs,
    /// Base of the absolute URLs handed to clients.
    pub public_url: String,
    pub metrics: PrometheusHandle,
    pub limits: Limits,
    /// What dashboard sessions are signed with.
    pub dashboard: dashboard::session::SessionKey,
}

impl AppState {
    /// State for the API, with the process-wide metrics recorder.
    /// State for the API, with the process-wide metrics recorder; dashboard sessions
    /// are signed with `dashboard_secret`, or a secret of this process's own.
    pub(crate) fn new(
        runs: Runs,
        public_url: String,
        limits: Limits,
        dashboard_secret: Option<&str>,
    ) -> AppState {
        AppState {
            runs,
            public_url,
            metrics: metrics::handle(),
            limits,
            dashboard: dashboard::session::SessionKey::new(dashboard_secret),
        }
    }
}

/// The `/v1` routes and the OpenAPI document gathered from them.
fn v1() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(reports::create, reports::list))
        .routes(routes!(reports::show, reports::cancel))
        .routes(routes!(reports::retry))
        .routes(routes!(reports::links))
        .routes(routes!(reports::catalog))
        .routes(routes!(downloads::download))
        .routes(routes!(queues::list))
        .routes(routes!(queues::pause))
        .routes(routes!(queues::resume))
        .split_for_parts()
}

/// The API's routes.
pub(crate) fn router(state: AppState) -> Router {
    let timeout = state.limits.request_timeout;
    let (v1, document) = v1();
    let document = Arc::new(document.to_pretty_json().expect("the document serializes"));
    v1.route(
        "/v1/openapi.json",
        get(move || async move {
            (
                [(header::CONTENT_TYPE, "application/json")],
                document.as_str().to_owned(),
            )
        }),
    )
    .merge(dashboard::routes())
    .route("/healthz", get(health::healthz))
    .route("/readyz", get(health::readyz))
    .route("/metrics", get(health::metrics))
    .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint") })
    .layer(DefaultBodyLimit::max(BODY_LIMIT))
    // A body that stalls answers 408 (see ApiError's From<JsonRejection>) before the
    // whole request's deadline answers 503.
    .layer(RequestBodyTimeoutLayer::new(timeout / 2))
    .layer(TimeoutLayer::with_status_code(
        StatusCode::SERVICE_UNAVAILABLE,
        timeout,
    ))
    .layer(axum::middleware::from_fn(metrics::count_requests))
    .layer(
        // One info line per request: method, route template (never the path, which
        // holds download tokens), status and latency.
        TraceLayer::new_for_http()
            .make_span_with(|request: &axum::extract::Request| {
                let route = request
                    .extensions()
                    .get::<axum::extract::MatchedPath>()
                    .map_or("unmatched", axum::extract::MatchedPath::as_str);
                tracing::info_span!("http", method = %request.method(), route = %route)
            })
            .on_request(())
            .on_response(
                |response: &axum::response::Response,
                 latency: std::time::Duration,
                 _: &tracing::Span| {
                    tracing::info!(
                        status = response.status().as_u16(),
                        latency_ms = latency.as_secs_f64() * 1000.0,
                        "request"
                    );
                },
            )
            .on_failure(()),
    )
    .with_state(state)
}

/// Serves the API on `listener` until `shutdown` completes, then finishes the
/// requests in flight.
///
/// # Errors
/// When the listener fails.
pub(crate) async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Without TCP_NODELAY a response written in two parts (a file's headers, then its
    // body) waits for the client's delayed ACK of the first: 40 ms on Linux.
    let listener = listener.tap_io(|stream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::warn!(%error, "cannot set TCP_NODELAY on a connection");
        }
    });
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
