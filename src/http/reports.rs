//! `/v1/reports`: enqueue, list, show, cancel, retry, links; `/v1/report-types`.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::auth::Caller;
use super::{ApiError, AppState};
use crate::catalog::FieldError;
use crate::names::{DownloadToken, IdempotencyKey, MAX_IDEMPOTENCY_KEY};
use crate::runs::RunRequest;
use crate::store::{RunQuery, RunStatus};
use crate::wire::RunView;
use crate::writer::OutputOptions;

/// The body of `POST /v1/reports`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateBody {
    tenant: String,
    report: String,
    format: String,
    #[serde(default)]
    params: Map<String, Value>,
    #[serde(default)]
    options: OutputOptions,
}

fn download_url(state: &AppState, token: &DownloadToken) -> String {
    format!("{}/v1/downloads/{token}", state.public_url)
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .and_then(|key| IdempotencyKey::parse(key).ok())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_idempotency_key",
                format!(
                    "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"
                ),
            )
        })?;
    Ok(Some(key))
}

pub(super) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Json<CreateBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    caller.check_tenant(&body.tenant)?;
    let mut request = RunRequest::parse(
        &body.tenant,
        &body.report,
        &body.format,
        body.params,
        body.options,
    )?;
    request.idempotency_key = idempotency_key(&headers)?;
    request.api_key_id = Some(caller.0.id.clone());
    let enqueued = state.runs.enqueue(&request).await?;
    let mut answer = RunView::new(&state.public_url, &enqueued.run);
    answer.download_url = Some(download_url(&state, &enqueued.token));
    answer.deduplicated = Some(enqueued.deduplicated);
    let status = if enqueued.deduplicated {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(answer)).into_response())
}

/// Query of `GET /v1/reports`.
#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    status: Option<String>,
    report: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "malformed_request", e.body_text()))?;
    let status = match query.status.as_deref() {
        None => None,
        Some(text) => Some(RunStatus::parse(text).ok_or_else(|| {
            ApiError::invalid(
                "invalid_request",
                &[FieldError::new(
                    "status",
                    format!("unknown status {text:?}"),
                )],
            )
        })?),
    };
    let page = state
        .runs
        .store
        .list_runs(&RunQuery {
            tenant: caller.scope().map(str::to_owned),
            status,
            report: query.report,
            limit: query.limit.unwrap_or(50),
            before: query.cursor,
        })
        .await?;
    let runs: Vec<RunView> = page
        .runs
        .iter()
        .map(|run| RunView::new(&state.public_url, run))
        .collect();
    Ok(Json(json!({ "runs": runs, "next_cursor": page.next })))
}

pub(super) async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RunView>, ApiError> {
    let run = state.runs.get(&id, caller.scope()).await?;
    Ok(Json(RunView::new(&state.public_url, &run)))
}

pub(super) async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RunView>, ApiError> {
    let run = state.runs.cancel(&id, caller.scope()).await?;
    Ok(Json(RunView::new(&state.public_url, &run)))
}

pub(super) async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RunView>, ApiError> {
    let run = state.runs.retry(&id, caller.scope()).await?;
    Ok(Json(RunView::new(&state.public_url, &run)))
}

pub(super) async fn links(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let run = state.runs.get(&id, caller.scope()).await?;
    let token = state.runs.mint_token(&run.id).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": run.id, "download_url": download_url(&state, &token) })),
    )
        .into_response())
}

pub(super) async fn catalog(State(state): State<AppState>, _caller: Caller) -> Json<Value> {
    let reports: Vec<Value> = state
        .runs
        .reporter
        .catalog()
        .reports()
        .map(|report| {
            json!({
                "name": report.name,
                "title": report.title,
                "description": report.description,
                "parameters": report.params,
                "columns": report.columns,
            })
        })
        .collect();
    Json(json!({ "report_types": reports }))
}
