//! `GET /v1/queues`: what the queues hold and which tenants the work is for;
//! `POST /v1/queues/{name}/pause` and `/resume`: keep workers from a queue, or let
//! them back.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::{Caller, admin_only};
use super::error::ErrorAnswers;
use super::{ApiError, AppState};
use crate::wire::{QueueState, QueuesView};

/// Tenants listed per queue unless `top` says otherwise.
pub(crate) const DEFAULT_TOP: usize = 10;
/// The most tenants listed per queue.
const MAX_TOP: usize = 100;

/// Query of `GET /v1/queues`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct QueuesQuery {
    /// Tenants listed per queue, those with the most ready runs first; 10 by default,
    /// at most 100.
    top: Option<usize>,
}

/// Ready runs per queue with the tenants they are for, runs building per tenant, and
/// the totals. Admin keys only: it shows every tenant's load.
#[utoipa::path(
    get,
    path = "/v1/queues",
    tag = "queues",
    params(QueuesQuery),
    responses((status = 200, body = QueuesView), ErrorAnswers),
    security(("api_key" = [])),
)]
pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<QueuesQuery>, QueryRejection>,
) -> Result<Json<QueuesView>, ApiError> {
    let Query(query) = query
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "malformed_request", e.body_text()))?;
    admin_only(
        &caller.0,
        "only an admin API key may see the queues: they show every tenant's load",
    )?;
    let top = query.top.unwrap_or(DEFAULT_TOP).min(MAX_TOP);
    let view = QueuesView::read(&state.runs.queue, top)
        .await
        .map_err(crate::runs::RunsError::from)?;
    Ok(Json(view))
}

/// Pauses or resumes the queue `name` for an admin caller.
async fn set_paused(
    state: &AppState,
    caller: &Caller,
    name: &str,
    paused: bool,
) -> Result<Json<QueueState>, ApiError> {
    admin_only(
        &caller.0,
        "only an admin API key may pause or resume a queue: it holds every tenant's runs",
    )?;
    let changed = QueueState::set(&state.runs.queue, name, paused)
        .await
        .map_err(crate::runs::RunsError::from)?;
    Ok(Json(changed))
}

/// Keeps workers from taking the queue's jobs. New runs are still accepted and wait,
/// spending no attempt; runs already building go on. Admin keys only.
#[utoipa::path(
    post,
    path = "/v1/queues/{name}/pause",
    tag = "queues",
    params(("name" = String, Path, description = "The queue, such as `reports`.")),
    responses((status = 200, body = QueueState), ErrorAnswers),
    security(("api_key" = [])),
)]
pub(super) async fn pause(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<QueueState>, ApiError> {
    set_paused(&state, &caller, &name, true).await
}

/// Lets workers take the queue's jobs again, waking idle ones for those waiting.
/// Admin keys only.
#[utoipa::path(
    post,
    path = "/v1/queues/{name}/resume",
    tag = "queues",
    params(("name" = String, Path, description = "The queue, such as `reports`.")),
    responses((status = 200, body = QueueState), ErrorAnswers),
    security(("api_key" = [])),
)]
pub(super) async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<QueueState>, ApiError> {
    set_paused(&state, &caller, &name, false).await
}
