//! `GET /v1/downloads/{token}`: the token is the capability, like a signed URL. The
//! file path comes from the run's row, never from the token, so no token can name a
//! path outside the storage directory.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use tower::ServiceExt as _;
use tower_http::services::ServeFile;
use utoipa::ToSchema;

use super::error::ErrorBody;
use super::{ApiError, AppState};
use crate::names::DownloadToken;
use crate::store::{Run, RunStatus, TokenLookup};
use crate::wire::Progress;

/// A run that is not finished yet, answered with 202.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Pending {
    status: RunStatus,
    progress: Progress,
}

/// The `Retry-After` of a pending download: small reports finish within a second or
/// two, and a client polling faster gains nothing.
const PENDING_RETRY_AFTER_SECS: u32 = 1;

/// The file of a completed run. No API key: the token in the URL is the capability.
/// Byte ranges and conditional requests are honoured.
#[utoipa::path(
    get,
    path = "/v1/downloads/{token}",
    tag = "downloads",
    params(("token" = String, Path, description = "The token of a download URL")),
    responses(
        (status = 200, description = "The whole file", content(
            (String = "text/csv; charset=utf-8"),
            (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        )),
        (status = 206, description = "The byte range asked for"),
        (status = 202, description = "The run is still queued or running; ask again after Retry-After seconds", body = Pending,
            headers(("Retry-After" = u32, description = "Seconds to wait before asking again"))),
        (status = 304, description = "Not modified since If-Modified-Since"),
        (status = 404, description = "No such download", body = ErrorBody),
        (status = 410, description = "The link or the file expired, or the run did not complete",
            body = ErrorBody),
        (status = 416, description = "The range is outside the file"),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
)]
pub(super) async fn download(
    State(state): State<AppState>,
    Path(token): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let unknown = || ApiError::new(StatusCode::NOT_FOUND, "unknown_token", "no such download");
    // A malformed token is unknown without a database look-up.
    let token = DownloadToken::parse(&token).map_err(|_| unknown())?;
    let run = match state.runs.store.lookup_token(&token).await? {
        TokenLookup::Unknown => return Err(unknown()),
        TokenLookup::Expired => {
            return Err(ApiError::new(
                StatusCode::GONE,
                "token_expired",
                "this download link has expired",
            ));
        }
        TokenLookup::Valid(run) => run,
    };
    match run.status {
        RunStatus::Queued | RunStatus::Running => {
            let pending = Pending {
                status: run.status,
                progress: Progress {
                    rows: run.progress_rows,
                },
            };
            let wait = [(header::RETRY_AFTER, PENDING_RETRY_AFTER_SECS.to_string())];
            Ok((StatusCode::ACCEPTED, wait, Json(pending)).into_response())
        }
        RunStatus::Failed | RunStatus::Discarded | RunStatus::Cancelled => {
            let mut error = ApiError::new(
                StatusCode::GONE,
                "run_not_completed",
                format!("the run is {}", run.status.as_str()),
            );
            error.details = json!({ "status": run.status, "error": run.error });
            Err(error)
        }
        RunStatus::Completed => serve(&run, request).await,
    }
}

async fn serve(run: &Run, request: Request) -> Result<Response, ApiError> {
    let gone = || {
        ApiError::new(
            StatusCode::GONE,
            "file_expired",
            "the file of this run has expired",
        )
    };
    let Some(file) = run.file.as_ref().filter(|f| !f.path.is_empty()) else {
        return Err(gone());
    };
    let served = ServeFile::new_with_mime(
        &file.path,
        &run.format.content_type().parse().expect("valid MIME"),
    )
    .oneshot(request)
    .await
    .map_err(|_| gone())?;
    if served.status() == StatusCode::NOT_FOUND {
        return Err(gone());
    }
    let (mut parts, body) = served.into_parts();
    let headers = &mut parts.headers;
    let date = run
        .finished_at
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .unwrap_or_default()
        .format("%Y-%m-%d");
    let name = format!(
        "{}-{}-{date}.{}",
        run.report,
        run.tenant,
        run.format.extension()
    );
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        percent_encode(&name)
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", file.sha256)) {
        headers.insert(header::ETAG, etag);
    }
    Ok(Response::from_parts(parts, Body::new(body)))
}

/// RFC 5987 encoding of a file name for `filename*`.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
