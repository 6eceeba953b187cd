//! Every API error as `{"error":{"code","message","details"}}`, mapped to its status
//! code in this one place. Clients get a clean message; causes go to the logs.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::catalog::FieldError;
use crate::names::echo;
use crate::runs::RunsError;

/// An error answer of the API.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
    /// Sent as `Retry-After` (whole seconds) when set.
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// An error without details.
    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: json!({}),
            retry_after: None,
        }
    }

    /// 422 with one entry per invalid field.
    pub(crate) fn invalid(code: &'static str, fields: &[FieldError]) -> ApiError {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code,
            message: "the request has invalid values".into(),
            details: json!({ "fields": fields }),
            retry_after: None,
        }
    }

    /// 404 for a run that does not exist or belongs to another tenant.
    pub(crate) fn run_not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "run_not_found", "no such run")
    }
}

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Error)]
pub(crate) struct ErrorBody {
    error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
struct ErrorDetail {
    /// A stable snake_case word, such as `invalid_params`.
    code: &'static str,
    /// A sentence for people.
    message: String,
    /// More about it: `fields` for 422s, a run's `status` and `error` for 410s.
    #[schema(value_type = Object)]
    details: Value,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                details: self.details,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(wait) = self.retry_after {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The error answers every authenticated operation may give; listed once so that no
/// operation's document forgets one.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code, reason = "the variants exist to be documented")]
pub(crate) enum ErrorAnswers {
    /// Malformed JSON, query or header.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// No, an unknown or a revoked API key.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// A tenant key acting for another tenant.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// No such run, report or endpoint.
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// The body took too long to arrive.
    #[response(status = 408)]
    Timeout(ErrorBody),
    /// The API key's enqueue rate is spent; `Retry-After` says when to come back.
    #[response(status = 429, headers(("Retry-After" = u64, description = "Seconds to wait")))]
    TooManyRequests(ErrorBody),
    /// The run's state or the Idempotency-Key does not allow it.
    #[response(status = 409)]
    Conflict(ErrorBody),
    /// The body is larger than 64 KiB.
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// The body is not `application/json`.
    #[response(status = 415)]
    UnsupportedMediaType(ErrorBody),
    /// Well-formed, but with invalid values (`details.fields` says which).
    #[response(status = 422)]
    Invalid(ErrorBody),
    /// A backing service (database, Redis) is unavailable, or the answer took too long.
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

impl From<RunsError> for ApiError {
    fn from(error: RunsError) -> ApiError {
        match error {
            RunsError::UnknownReport(name) => ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_report",
                format!("there is no report named {name:?}"),
            ),
            RunsError::Invalid(fields) => {
                let code = if fields.iter().all(|f| f.field.starts_with("params")) {
                    "invalid_params"
                } else {
                    "invalid_request"
                };
                ApiError::invalid(code, &fields)
            }
            RunsError::IdempotencyConflict => ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_conflict",
                "this Idempotency-Key was already used with a different request",
            ),
            RunsError::NotFound => ApiError::run_not_found(),
            RunsError::Conflict(message) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", message)
            }
            error @ RunsError::TooManyQueued(limit) => {
                let mut answer = ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "too_many_queued",
                    error.to_string(),
                );
                answer.details = json!({ "limit": limit });
                answer
            }
            RunsError::AttemptFinishing => ApiError::new(
                StatusCode::CONFLICT,
                "attempt_finishing",
                RunsError::AttemptFinishing.to_string(),
            ),
            unavailable => {
                tracing::error!(error = %unavailable, cause = ?std::error::Error::source(&unavailable), "request failed");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "a backing service is unavailable; retry later",
                )
            }
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> ApiError {
        RunsError::from(error).into()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> ApiError {
        let status = rejection.status();
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            _ => "malformed_request",
        };
        let stalled = std::iter::successors(std::error::Error::source(&rejection), |cause| {
            cause.source()
        })
        .any(|cause| cause.is::<tower_http::timeout::TimeoutError>());
        if stalled {
            return ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "the request body stopped arriving before it was complete",
            );
        }
        let refused_json = std::iter::successors(std::error::Error::source(&rejection), |cause| {
            cause.source()
        })
        .find_map(|cause| cause.downcast_ref::<serde_path_to_error::Error<serde_json::Error>>());
        if let Some(error) = refused_json {
            return json_problem(error);
        }
        // 422 from axum means well-formed JSON of the wrong shape: a missing field.
        let status = if status == StatusCode::UNPROCESSABLE_ENTITY {
            StatusCode::BAD_REQUEST
        } else {
            status
        };
        ApiError::new(status, code, rejection.body_text())
    }
}

/// A body that JSON or the request's shape refused, in the API's words: which field,
/// and what it should be; never a Rust type's name, nor a value in full.
fn json_problem(error: &serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    use serde_json::error::Category;
    let inner = error.inner();
    let serde_message = inner.to_string();
    let serde_message = serde_message
        .rsplit_once(" at line ")
        .map_or(serde_message.as_str(), |(message, _)| message);
    let message = match inner.classify() {
        Category::Syntax => format!(
            "the body is not valid JSON: {serde_message} (line {}, column {})",
            inner.line(),
            inner.column()
        ),
        Category::Eof => "the body ends before its JSON does".to_owned(),
        Category::Io => "the body could not be read".to_owned(),
        Category::Data => shape_problem(serde_message),
    };
    let field = error.path().to_string();
    // serde's path is `.` for the whole body and `?` where it lost track.
    let (message, field) = if field == "." || field == "?" {
        let message = if message.starts_with("must") {
            format!("the body {message}")
        } else {
            message
        };
        (message, Value::Null)
    } else {
        (format!("{field}: {message}"), Value::from(field))
    };
    let mut answer = ApiError::new(StatusCode::BAD_REQUEST, "malformed_request", message);
    answer.details = json!({ "field": field });
    answer
}

/// serde's account of a value of the wrong shape, retold.
fn shape_problem(serde_message: &str) -> String {
    if let Some((found, expected)) = serde_message
        .strip_prefix("invalid type: ")
        .and_then(|rest| rest.split_once(", expected "))
    {
        return format!("must be {}, not {}", json_kind(expected), json_kind(found));
    }
    if let Some(field) = serde_message.strip_prefix("missing field ") {
        return format!("the field {} is required", field.trim_matches('`'));
    }
    if let Some(rest) = serde_message.strip_prefix("unknown field ") {
        let (field, known) = rest.split_once(", expected ").unwrap_or((rest, "none"));
        return format!(
            "unknown field {}; expected {}",
            echo(field.trim_matches('`')),
            known.replace('`', "")
        );
    }
    if serde_message.starts_with("invalid length") {
        return "must be an object".to_owned();
    }
    echo(serde_message)
}

/// A JSON kind as serde names it (`struct OutputOptions`, `integer `5``, `a map`),
/// named as JSON does.
fn json_kind(serde_name: &str) -> &'static str {
    let name = serde_name
        .trim_start_matches("a ")
        .trim_start_matches("an ");
    let kind = name.split([' ', '`']).next().unwrap_or_default();
    match kind {
        "struct" | "map" | "newtype" => "an object",
        "sequence" | "tuple" => "an array",
        "string" | "char" => "a string",
        "integer" | "floating" | "number" | "i64" | "u64" | "f64" => "a number",
        "boolean" => "true or false",
        "null" | "unit" | "option" => "null",
        _ => "a value of another kind",
    }
}
