//! `Authorization: Bearer <api key>`: who is calling, and for which tenant.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};

use super::{ApiError, AppState};
use crate::store::{Access, ApiKey};

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub(super) struct Caller(pub ApiKey);

impl Caller {
    /// The tenant the caller is limited to; `None` for an admin key.
    pub(super) fn scope(&self) -> Option<&str> {
        self.0.tenant.as_deref()
    }

    /// Refuses a tenant outside the key's scope.
    ///
    /// # Errors
    /// 403 when a tenant key names another tenant.
    pub(super) fn check_tenant(&self, tenant: &str) -> Result<(), ApiError> {
        match self.scope() {
            Some(own) if own != tenant => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden_tenant",
                "this API key may not act for that tenant",
            )),
            _ => Ok(()),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        let unauthorized =
            |message: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message);
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| unauthorized("missing Authorization: Bearer <api key>"))?;
        let key = header
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|key| !key.is_empty())
            .ok_or_else(|| unauthorized("the Authorization header must be Bearer <api key>"))?;
        let caller = match state.runs.store.authenticate(key).await? {
            Some(api_key) => Caller(api_key),
            None => return Err(unauthorized("unknown or revoked API key")),
        };
        if !may_request(caller.0.access, &parts.method, parts.uri.path()) {
            return Err(read_only_refusal());
        }
        Ok(caller)
    }
}

/// Whether a key of `access` may send `method` to `path`: a read-only key reads, and
/// may mint a download link (that reads a file; it changes no run).
pub(super) fn may_request(access: Access, method: &Method, path: &str) -> bool {
    access == Access::Full || method.is_safe() || path.ends_with("/links")
}

/// Refuses a tenant's key with 403 `admin_only` and `why`.
pub(super) fn admin_only(key: &ApiKey, why: &str) -> Result<(), ApiError> {
    match key.tenant {
        Some(_) => Err(ApiError::new(StatusCode::FORBIDDEN, "admin_only", why)),
        None => Ok(()),
    }
}

/// The answer to a read-only key that tried to change something.
pub(super) fn read_only_refusal() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "read_only_key",
        "this API key is read-only: it may look, not change anything",
    )
}
