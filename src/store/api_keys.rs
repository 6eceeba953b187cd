//! API keys: 256 random bits shown once, stored as SHA-256, scoped to one tenant or
//! admin, full or read-only, revocable, optionally carrying a completion webhook.

use super::{Store, StoreError, on_reader, on_writer, sql, values};

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApiKey {
    /// The key's public id (`key_…`), safe to log; never the secret key itself.
    pub id: String,
    /// The one tenant this key may act for; `None` for an admin key.
    pub tenant: Option<String>,
    /// Whether the key may change anything.
    #[sqlx(try_from = "String")]
    pub access: Access,
}

/// What a key may do within its scope.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Access {
    /// See and change.
    #[default]
    Full,
    /// See everything the scope holds, change nothing (an auditor, a support desk).
    ReadOnly,
}

impl Access {
    /// The word stored in `quire_api_keys.access`.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Full => "full",
            Access::ReadOnly => "read_only",
        }
    }
}

impl TryFrom<String> for Access {
    type Error = StoreError;

    fn try_from(word: String) -> Result<Access, StoreError> {
        match word.as_str() {
            "full" => Ok(Access::Full),
            "read_only" => Ok(Access::ReadOnly),
            _ => Err(StoreError::Corrupt(format!("unknown key access {word:?}"))),
        }
    }
}

/// A key to create.
#[derive(Debug, Clone, Default)]
pub struct NewApiKey {
    /// `None` for an admin key.
    pub tenant: Option<String>,
    /// Where each finished run of the key is POSTed; `None` for no webhook.
    pub webhook_url: Option<String>,
    /// The secret webhook bodies are signed with (HMAC-SHA256).
    pub webhook_secret: Option<String>,
    /// Full, or read-only.
    pub access: Access,
}

fn hash(key: &str) -> String {
    super::sha256_hex(&[key.as_bytes()])
}

impl Store {
    /// Creates a key and returns `(id, key)`; the key is not stored and cannot be
    /// shown again.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn create_api_key(&self, new: &NewApiKey) -> Result<(String, String), StoreError> {
        let id = format!("key_{}", uuid::Uuid::now_v7().simple());
        let key = format!("qk_{}", crate::names::random_secret());
        let now = self.now_ms();
        on_writer!(self, pool => {
            sql!("api_keys/insert.sql").query(&values![&id, &hash(&key), &new.tenant, &new.webhook_url, &new.webhook_secret, now, new.access.as_str()])
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok((id, key))
    }

    /// The live (unrevoked) key matching `key`.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn authenticate(&self, key: &str) -> Result<Option<ApiKey>, StoreError> {
        let found = on_reader!(self, pool => {
            sql!("api_keys/authenticate.sql").query_as(&values![&hash(key)])
                .fetch_optional(pool)
                .await
        })?;
        Ok(found)
    }

    /// The live (unrevoked) key with the public id `id`: a dashboard session names its
    /// key by id, and a revoked key ends its sessions.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn api_key(&self, id: &str) -> Result<Option<ApiKey>, StoreError> {
        let found = on_reader!(self, pool => {
            sql!("api_keys/by_id.sql").query_as(&values![id])
                .fetch_optional(pool)
                .await
        })?;
        Ok(found)
    }

    /// Revokes the key `id`; returns false when there is no such live key.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn revoke_api_key(&self, id: &str) -> Result<bool, StoreError> {
        let now = self.now_ms();
        let updated = on_writer!(self, pool => {
            sql!("api_keys/revoke.sql").query(&values![id, now])
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(updated == 1)
    }
}
