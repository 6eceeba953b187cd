//! `GET /v1/downloads/{token}`: the token is the capability, like a signed URL. The
//! file's location comes from the run's row, never from the token, so no token can name
//! a path outside the storage directory. A file in a bucket is streamed through quire
//! with the same byte ranges and headers as a local one, or, when set, answered with a
//! redirect to a presigned URL.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
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
use crate::runs::RunsError;
use crate::storage::{Location, ObjectStorage, Storage, StorageError};
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
        (status = 302, description = "With presigned downloads from a bucket: the file's presigned URL, in Location"),
        (status = 202, description = "The run is still queued or running; ask again after Retry-After seconds", body = Pending,
            headers(("Retry-After" = u32, description = "Seconds to wait before asking again"))),
        (status = 304, description = "Not modified since If-Modified-Since"),
        (status = 404, description = "No such download", body = ErrorBody),
        (status = 410, description = "The link or the file expired, or the run did not complete",
            body = ErrorBody),
        (status = 416, description = "The range is outside the file"),
        (status = 503, description = "The database or the object store is unavailable", body = ErrorBody),
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
        RunStatus::Completed => serve(&state.runs.storage, &run, request).await,
    }
}

fn gone() -> ApiError {
    ApiError::new(
        StatusCode::GONE,
        "file_expired",
        "the file of this run has expired",
    )
}

async fn serve(storage: &Storage, run: &Run, request: Request) -> Result<Response, ApiError> {
    let Some(file) = run.file.as_ref().filter(|f| !f.path.is_empty()) else {
        return Err(gone());
    };
    let disposition = content_disposition(run);
    let etag = format!("\"{}\"", file.sha256);
    let served = match (storage, Location::parse(&file.path)) {
        // The client's copy is this file already: nothing to send, wherever it lives.
        _ if unchanged(request.headers(), &etag) => StatusCode::NOT_MODIFIED.into_response(),
        (_, Location::File(path)) => {
            let served = ServeFile::new_with_mime(
                &path,
                &run.format.content_type().parse().expect("valid MIME"),
            )
            .oneshot(request)
            .await
            .map_err(|_| gone())?;
            if served.status() == StatusCode::NOT_FOUND {
                return Err(gone());
            }
            served.map(Body::new)
        }
        (Storage::Bucket(objects), Location::Object { bucket, key }) if objects.holds(&bucket) => {
            let size = u64::try_from(file.bytes).unwrap_or(0);
            if objects.presigned_downloads() {
                let url = objects.presigned_url(&key, &disposition).await;
                let location =
                    HeaderValue::try_from(url.map_err(object_error)?).map_err(|_| gone())?;
                (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
            } else {
                serve_object(objects, &key, size, run, request.headers()).await?
            }
        }
        // An object of another bucket than this deployment's: not reachable from here.
        (_, Location::Object { .. }) => return Err(gone()),
    };
    let (mut parts, body) = served.into_parts();
    let headers = &mut parts.headers;
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
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, etag);
    }
    Ok(Response::from_parts(parts, body))
}

/// Whether `If-None-Match` names `etag` (or any version, `*`): a weak comparison, as
/// RFC 9110 asks for this header.
fn unchanged(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag || tag == "*")
}

/// `Content-Disposition` of the run's file: `<report>-<tenant>-<date>.<ext>`, in ASCII
/// and in full.
fn content_disposition(run: &Run) -> String {
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
    format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        percent_encode(&name)
    )
}

/// The object store's failure as the client sees it: a missing object has expired,
/// anything else is an unavailable backing service.
fn object_error(error: StorageError) -> ApiError {
    match error {
        StorageError::NotFound(_) => gone(),
        other => RunsError::Storage(other).into(),
    }
}

/// The object `key` of `size` bytes, or the one byte range `headers` ask for, streamed
/// from the bucket, answered as [`ServeFile`] answers for a local file.
async fn serve_object(
    objects: &ObjectStorage,
    key: &str,
    size: u64,
    run: &Run,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let range = headers
        .get(header::RANGE)
        .map(|value| requested_range(value, size));
    let unsatisfiable = || {
        let content_range = format!("bytes */{size}");
        (
            StatusCode::RANGE_NOT_SATISFIABLE,
            [(header::CONTENT_RANGE, content_range)],
        )
            .into_response()
    };
    let range = match range {
        Some(None) => return Ok(unsatisfiable()),
        Some(Some(range)) => Some(range),
        None => None,
    };
    let object = objects
        .get(key, range.clone())
        .await
        .map_err(object_error)?;
    let status = if range.is_some() {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let mut response = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, run.format.content_type())
        .header(header::ACCEPT_RANGES, "bytes")
        .header(
            header::LAST_MODIFIED,
            object
                .last_modified
                .format("%a, %d %b %Y %H:%M:%S GMT")
                .to_string(),
        )
        .header(
            header::CONTENT_LENGTH,
            object.range.end - object.range.start,
        );
    if range.is_some() {
        response = response.header(
            header::CONTENT_RANGE,
            format!(
                "bytes {}-{}/{size}",
                object.range.start,
                object.range.end.saturating_sub(1)
            ),
        );
    }
    response
        .body(Body::from_stream(object.stream))
        .map_err(|_| gone())
}

/// The one byte range a `Range` header asks for within `size` bytes; `None` when it
/// cannot be served (malformed, outside the file, or several ranges), as [`ServeFile`]
/// decides.
fn requested_range(value: &HeaderValue, size: u64) -> Option<std::ops::Range<u64>> {
    let parsed = http_range_header::parse_range_header(value.to_str().ok()?).ok()?;
    if parsed.ranges.len() > 1 {
        return None;
    }
    let range = parsed.validate(size).ok()?.pop()?;
    Some(*range.start()..range.end() + 1)
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
