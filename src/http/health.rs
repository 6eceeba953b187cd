//! Liveness, readiness (database and Redis reachable) and Prometheus metrics.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;

use super::AppState;

pub(super) async fn healthz() -> &'static str {
    "ok"
}

/// How long readiness waits for the database and Redis.
const READY_WAIT: Duration = Duration::from_secs(2);

/// 200 when the database and Redis both answer within 2 s, else 503 with what is
/// wrong with each, a down database's address included.
pub(super) async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let db = state.runs.store.db();
    let ping = tokio::time::timeout(READY_WAIT, db.within_reach(state.runs.store.ping()));
    let redis = tokio::time::timeout(READY_WAIT, state.runs.queue.redis_time_ms());
    let (ping, redis) = tokio::join!(ping, redis);
    let database_error = match ping {
        Ok(Ok(Ok(()))) => None,
        Ok(Ok(Err(error))) => Some(error.to_string()),
        Ok(Err(unreachable)) => Some(unreachable.to_string()),
        Err(_) => Some("the database answered no query within 2 s".to_owned()),
    };
    let redis_error = match redis {
        Ok(Ok(_)) => None,
        Ok(Err(error)) => Some(error.to_string()),
        Err(_) => Some("Redis answered no command within 2 s".to_owned()),
    };
    let ready = database_error.is_none() && redis_error.is_none();
    let mut body = json!({ "database": database_error.is_none(), "redis": redis_error.is_none() });
    if !ready {
        body["errors"] = json!({ "database": database_error, "redis": redis_error });
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

pub(super) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(),
    )
}
