//! API keys: 256 random bits shown once, stored as SHA-256, scoped to one tenant or
//! admin, revocable, optionally carrying a completion webhook.

use super::{Store, StoreError, on_writer, sql, values};

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApiKey {
    /// The key's public id (`key_…`), safe to log; never the secret key itself.
    pub id: String,
    /// The one tenant this key may act for; `None` for an admin key.
    pub tenant: Option<String>,
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
            sql!("api_keys/insert.sql").query(&values![&id, &hash(&key), &new.tenant, &new.webhook_url, &new.webhook_secret, now])
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
        let found = crate::on_any_pool!(&self.db, pool => {
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
        let found = crate::on_any_pool!(&self.db, pool => {
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
