//! `/v1/reports`: enqueue, list, show, cancel, retry, links; `/v1/report-types`.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::error::ErrorAnswers;
use super::{ApiError, AppState};
use crate::catalog::FieldError;
use crate::names::{DownloadToken, IdempotencyKey, MAX_IDEMPOTENCY_KEY, echo};
use crate::runs::{RunRequest, RunsError};
use crate::store::{RunQuery, RunStatus};
use crate::wire::RunView;
use crate::writer::{Format, OutputOptions};

/// The body of `POST /v1/reports`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateBody {
    /// The tenant's slug: 1 to 128 ASCII letters, digits, `-`, `_` and `.`.
    #[schema(example = "acme")]
    tenant: String,
    /// The report's name (see `GET /v1/report-types`).
    #[schema(example = "clients")]
    report: String,
    /// The file format; `csv` when omitted, as on the command line.
    #[serde(default = "default_format")]
    #[schema(value_type = Format, default = "csv")]
    format: String,
    /// The report's parameters by name; omitted ones take their defaults.
    #[serde(default)]
    #[schema(value_type = Object)]
    params: Map<String, Value>,
    /// Output options.
    #[serde(default)]
    options: OutputOptions,
    /// Answer with an identical run that completed at most this long ago (e.g. `10m`),
    /// if its file is still there, instead of building it again; `0s` never does. When
    /// omitted, the report's own `reuse_for` applies (none by default).
    #[schema(example = "10m")]
    reuse_for: Option<String>,
}

/// The format of a request that names none.
fn default_format() -> String {
    Format::Csv.extension().to_owned()
}

/// The answer of `GET /v1/reports`.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct RunPage {
    /// Newest first.
    runs: Vec<RunView>,
    /// The `cursor` of the next page; `null` on the last.
    next_cursor: Option<String>,
}

/// The answer of `POST /v1/reports/{id}/links`.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Link {
    /// The run's id.
    id: String,
    /// A freshly minted download URL.
    download_url: String,
}

/// A report of the catalog.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ReportType {
    name: String,
    title: String,
    description: String,
    /// Its parameters: name, type, default, allowed values.
    #[schema(value_type = Vec<Object>)]
    parameters: Value,
    /// Its columns, in output order.
    #[schema(value_type = Vec<Object>)]
    columns: Value,
}

/// The answer of `GET /v1/report-types`.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ReportTypes {
    report_types: Vec<ReportType>,
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

/// Enqueue a report run; an identical request while the first is queued or running,
/// or a repeated Idempotency-Key, answers that run instead (200, `deduplicated`).
#[utoipa::path(
    post,
    path = "/v1/reports",
    tag = "reports",
    request_body = CreateBody,
    params(
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255,
            pattern = "^[!-~]+$",
            description = "Repeat a request safely: the same key answers the same run for 24 h"),
    ),
    responses(
        (status = 202, description = "A new run was queued", body = RunView),
        (status = 200, description = "An existing run answers this request", body = RunView),
        ErrorAnswers,
    ),
    security(("api_key" = [])),
)]
pub(super) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Json<CreateBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    if let Some(limit) = state.limits.rate {
        let bucket = format!("enqueue:{}", caller.0.id);
        if let Some(wait) = state
            .runs
            .queue
            .take_token(&bucket, limit)
            .await
            .map_err(RunsError::from)?
        {
            let mut refused = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "this API key may enqueue {} runs at once, refilled evenly; retry later",
                    limit.burst
                ),
            );
            refused.retry_after = Some(wait);
            return Err(refused);
        }
    }
    let Json(body) = body?;
    caller.check_tenant(&body.tenant)?;
    let mut request = RunRequest::parse(
        &body.tenant,
        &body.report,
        &body.format,
        body.params,
        body.options,
        body.reuse_for.as_deref(),
    )?;
    request.idempotency_key = idempotency_key(&headers)?;
    request.api_key_id = Some(caller.0.id.clone());
    let enqueued = state.runs.enqueue(&request).await?;
    let mut answer = RunView::new(&state.public_url, &enqueued.run);
    answer.download_url = Some(download_url(&state, &enqueued.token));
    answer.deduplicated = Some(enqueued.deduplicated);
    answer.reused = Some(enqueued.reused);
    let status = if enqueued.deduplicated {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(answer)).into_response())
}

/// Query of `GET /v1/reports`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ListQuery {
    /// Only runs in this state.
    #[param(value_type = Option<RunStatus>)]
    status: Option<String>,
    /// Only runs of this report.
    report: Option<String>,
    /// Only runs of this tenant (admin keys; a tenant key sees its own runs only).
    tenant: Option<String>,
    /// Runs per page, 50 by default; values outside 1 to 200 are brought within.
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The caller's runs (an admin key's: every tenant's), newest first.
#[utoipa::path(
    get,
    path = "/v1/reports",
    tag = "reports",
    params(ListQuery),
    responses((status = 200, body = RunPage), ErrorAnswers),
    security(("api_key" = [])),
)]
pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<RunPage>, ApiError> {
    let Query(query) = query
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "malformed_request", e.body_text()))?;
    let status = match query.status.as_deref() {
        None => None,
        Some(text) => Some(RunStatus::parse(text).ok_or_else(|| {
            ApiError::invalid(
                "invalid_request",
                &[FieldError::new(
                    "status",
                    format!("{} is not a run status", echo(text)),
                )],
            )
        })?),
    };
    if let Some(asked) = &query.tenant {
        caller.check_tenant(asked)?;
    }
    let page = state
        .runs
        .store
        .list_runs(&RunQuery {
            tenant: caller.scope().map(str::to_owned).or(query.tenant),
            status,
            report: query.report,
            limit: query.limit.unwrap_or(50),
            before: query.cursor,
            ..RunQuery::default()
        })
        .await?;
    let runs = page
        .runs
        .iter()
        .map(|run| RunView::new(&state.public_url, run))
        .collect();
    Ok(Json(RunPage {
        runs,
        next_cursor: page.next,
    }))
}

/// A run: its state, progress, error or file.
#[utoipa::path(
    get,
    path = "/v1/reports/{id}",
    tag = "reports",
    params(("id" = String, Path, description = "The run's id")),
    responses((status = 200, description = "The run", body = RunView), ErrorAnswers),
    security(("api_key" = [])),
)]
pub(super) async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RunView>, ApiError> {
    let run = state.runs.get(&id, caller.scope()).await?;
    Ok(Json(RunView::new(&state.public_url, &run)))
}

/// Cancel a queued or running run; a finished one answers 409.
#[utoipa::path(
    delete,
    path = "/v1/reports/{id}",
    tag = "reports",
    params(("id" = String, Path, description = "The run's id")),
    responses((status = 200, description = "The cancelled run", body = RunView), ErrorAnswers),
    security(("api_key" = [])),
)]
pub(super) async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RunView>, ApiError> {
    let run = state.runs.cancel(&id, caller.scope()).await?;
    Ok(Json(RunView::new(&state.public_url, &run)))
}

/// Queue a failed or cancelled run again.
#[utoipa::path(
    post,
    path = "/v1/reports/{id}/retry",
    tag = "reports",
    params(("id" = String, Path, description = "The run's id")),
    responses((status = 200, description = "The run, queued again", body = RunView), ErrorAnswers),
    security(("api_key" = [])),
)]
pub(super) async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RunView>, ApiError> {
    let run = state.runs.retry(&id, caller.scope()).await?;
    Ok(Json(RunView::new(&state.public_url, &run)))
}

/// Mint a fresh download link for a run.
#[utoipa::path(
    post,
    path = "/v1/reports/{id}/links",
    tag = "reports",
    params(("id" = String, Path, description = "The run's id")),
    responses((status = 201, description = "A new download URL", body = Link), ErrorAnswers),
    security(("api_key" = [])),
)]
pub(super) async fn links(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let run = state.runs.get(&id, caller.scope()).await?;
    let token = state.runs.mint_token(&run.id).await?;
    let link = Link {
        download_url: download_url(&state, &token),
        id: run.id,
    };
    Ok((StatusCode::CREATED, Json(link)).into_response())
}

/// The reports that can be asked for, with their parameters and columns.
#[utoipa::path(
    get,
    path = "/v1/report-types",
    tag = "reports",
    responses((status = 200, body = ReportTypes), ErrorAnswers),
    security(("api_key" = [])),
)]
pub(super) async fn catalog(State(state): State<AppState>, _caller: Caller) -> Json<ReportTypes> {
    let report_types = state
        .runs
        .reporter
        .catalog()
        .reports()
        .map(|report| ReportType {
            name: report.name.to_string(),
            title: report.title.clone(),
            description: report.description.clone(),
            parameters: json!(report.params),
            columns: json!(report.columns),
        })
        .collect();
    Json(ReportTypes { report_types })
}
