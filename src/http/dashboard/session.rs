//! Signing in to the dashboard: an API key is checked once, at the sign-in form, and
//! the browser then holds a signed session cookie naming the key (never the key
//! itself), HttpOnly, SameSite=Strict and expiring. Every state-changing form carries a
//! CSRF token bound to that session, and a request whose `Origin` is another site's is
//! refused.

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

use crate::http::AppState;
use crate::http::auth::may_request;
use crate::store::ApiKey;

/// The session cookie's name.
const COOKIE: &str = "quire_session";

/// How long a session lasts after signing in.
pub(super) const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);

/// The secret sessions and CSRF tokens are signed with. API processes behind one
/// address must share it (`QUIRE_DASHBOARD_SECRET`); by default each process draws
/// its own, so a session is good for the process that made it.
#[derive(Clone)]
pub(crate) struct SessionKey(Vec<u8>);

impl SessionKey {
    /// A key from the configured secret, or a random one.
    pub(crate) fn new(secret: Option<&str>) -> SessionKey {
        SessionKey(match secret {
            Some(secret) => secret.as_bytes().to_vec(),
            None => crate::names::random_secret().into_bytes(),
        })
    }

    fn sign(&self, text: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(text.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The cookie value of a session of key `key_id` ending at `expires_ms`.
    fn cookie_value(&self, key_id: &str, expires_ms: i64) -> String {
        let body = format!("{key_id}.{expires_ms}");
        let signature = self.sign(&body);
        format!("{body}.{signature}")
    }

    /// The key id of a cookie value signed by this key and not expired at `now_ms`.
    fn verify(&self, value: &str, now_ms: i64) -> Option<String> {
        let (body, signature) = value.rsplit_once('.')?;
        let (key_id, expires_ms) = body.split_once('.')?;
        let expected = self.sign(body);
        // Both are hex of one length; comparing every byte keeps timing flat.
        let same = expected.len() == signature.len()
            && expected
                .bytes()
                .zip(signature.bytes())
                .fold(0u8, |diff, (a, b)| diff | (a ^ b))
                == 0;
        (same && expires_ms.parse::<i64>().ok()? > now_ms).then(|| key_id.to_owned())
    }
}

/// A signed-in dashboard user: the API key they signed in with, and the CSRF token
/// their forms must carry.
#[derive(Debug, Clone)]
pub(super) struct Session {
    pub key: ApiKey,
    pub csrf: String,
}

impl Session {
    /// The tenant the session is limited to; `None` for an admin key.
    pub(super) fn scope(&self) -> Option<&str> {
        self.key.tenant.as_deref()
    }

    /// Whether the session may act on every tenant (queues, workers).
    pub(super) fn is_admin(&self) -> bool {
        self.key.tenant.is_none()
    }

    /// Whether the session may post to `action`: the API's rule, so a read-only key
    /// sees no button the API would refuse it.
    pub(super) fn may_post(&self, action: &str) -> bool {
        action == SIGN_OUT || may_request(self.key.access, &Method::POST, action)
    }
}

/// The one form a read-only session may always post.
pub(super) const SIGN_OUT: &str = "/dashboard/sign-out";

/// Why a dashboard request was refused before its handler ran.
#[derive(Debug)]
pub(super) enum Refusal {
    /// No valid session: go to the sign-in form.
    SignIn,
    /// A state-changing request without this session's CSRF token, or from another
    /// site.
    Forbidden(&'static str),
    /// quire's database failed while checking the session.
    Unavailable,
}

/// The `Set-Cookie` value that starts a session for `key`.
pub(super) fn start(state: &AppState, key: &ApiKey, now_ms: i64) -> String {
    let ttl = i64::try_from(SESSION_TTL.as_millis()).unwrap_or(i64::MAX);
    let value = state.dashboard.cookie_value(&key.id, now_ms + ttl);
    let secure = if state.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{COOKIE}={value}; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        SESSION_TTL.as_secs()
    )
}

/// The `Set-Cookie` value that ends the session.
pub(super) fn end() -> String {
    format!("{COOKIE}=; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=0")
}

fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

/// Whether the request's `Origin`, when it has one, is this server's own (the `Host`
/// it was sent to): a form posted from another site is refused even if a cookie rode
/// along.
pub(super) fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok());
    let origin = origin
        .to_str()
        .ok()
        .and_then(|origin| origin.split_once("://"));
    matches!((origin, host), (Some((_, origin_host)), Some(host)) if origin_host == host)
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Session, Refusal> {
        let now_ms = state.runs.store.now_ms();
        let value = cookie(&parts.headers).ok_or(Refusal::SignIn)?;
        let key_id = state
            .dashboard
            .verify(value, now_ms)
            .ok_or(Refusal::SignIn)?;
        let key = state
            .runs
            .store
            .api_key(&key_id)
            .await
            .map_err(|error| {
                tracing::warn!(%error, "cannot check a dashboard session");
                Refusal::Unavailable
            })?
            .ok_or(Refusal::SignIn)?;
        let csrf = state.dashboard.sign(&format!("csrf.{value}"));
        let session = Session { key, csrf };
        if parts.method == Method::POST && !session.may_post(parts.uri.path()) {
            return Err(Refusal::Forbidden(
                "this key is read-only: it may look, not change anything",
            ));
        }
        Ok(session)
    }
}

impl Session {
    /// Refuses a state-changing request whose form lacks this session's CSRF token or
    /// that comes from another site.
    pub(super) fn check(&self, headers: &HeaderMap, token: &str) -> Result<(), Refusal> {
        if !same_origin(headers) {
            return Err(Refusal::Forbidden("this form was sent from another site"));
        }
        if token != self.csrf {
            return Err(Refusal::Forbidden(
                "this form has no valid CSRF token; reload the page and try again",
            ));
        }
        Ok(())
    }
}

/// The status a refusal answers with.
pub(super) fn refusal_status(refusal: &Refusal) -> StatusCode {
    match refusal {
        Refusal::SignIn => StatusCode::SEE_OTHER,
        Refusal::Forbidden(_) => StatusCode::FORBIDDEN,
        Refusal::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

#[cfg(test)]
mod tests {
    use super::SessionKey;

    #[test]
    fn a_session_cookie_holds_only_while_signed_and_unexpired() {
        let key = SessionKey::new(Some("secret"));
        let value = key.cookie_value("key_1", 2_000);
        assert_eq!(key.verify(&value, 1_000).as_deref(), Some("key_1"));
        assert_eq!(key.verify(&value, 2_000), None, "expired");
        let forged = value.replacen("key_1", "key_2", 1);
        assert_eq!(key.verify(&forged, 1_000), None, "another key id");
        let other = SessionKey::new(Some("other secret"));
        assert_eq!(other.verify(&value, 1_000), None, "another secret");
        assert_eq!(key.verify("garbage", 1_000), None);
    }
}
