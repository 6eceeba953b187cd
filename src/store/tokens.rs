//! Download tokens: 256 random bits handed out once, stored only as their SHA-256,
//! valid until they expire, many per run.

use super::{Run, Store, StoreError, on_reader, on_writer, sql, values};
use crate::names::DownloadToken;

/// What a presented token leads to.
#[derive(Debug, Clone)]
pub enum TokenLookup {
    /// No such token.
    Unknown,
    /// The token existed but has expired.
    Expired,
    /// A live token for this run.
    Valid(Box<Run>),
}

fn hash(token: &DownloadToken) -> String {
    super::sha256_hex(&[token.as_str().as_bytes()])
}

/// A new token and the hash under which it is stored.
pub(super) fn new_token() -> (DownloadToken, String) {
    let token = DownloadToken::generate();
    let hashed = hash(&token);
    (token, hashed)
}

impl Store {
    /// Mints a token for `run_id` valid for `ttl_ms`; returns the token, which is never
    /// stored and cannot be shown again.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn mint_token(&self, run_id: &str, ttl_ms: i64) -> Result<DownloadToken, StoreError> {
        let (token, hashed) = new_token();
        let now = self.now_ms();
        on_writer!(self, pool => {
            sql!("tokens/insert.sql").query(&values![&hashed, run_id, now, now.saturating_add(ttl_ms)])
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(token)
    }

    /// Resolves a presented token.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn lookup_token(&self, token: &DownloadToken) -> Result<TokenLookup, StoreError> {
        let found: Option<(String, i64)> = on_reader!(self, pool => {
            sql!("tokens/lookup.sql").query_as(&values![&hash(token)])
                .fetch_optional(pool)
                .await
        })?;
        let Some((run_id, expires_at)) = found else {
            return Ok(TokenLookup::Unknown);
        };
        if expires_at <= self.now_ms() {
            return Ok(TokenLookup::Expired);
        }
        Ok(match self.run(&run_id).await? {
            Some(run) => TokenLookup::Valid(Box::new(run)),
            None => TokenLookup::Unknown,
        })
    }

    /// Deletes tokens that expired before `cutoff_ms`.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn prune_tokens(&self, cutoff_ms: i64) -> Result<u64, StoreError> {
        self.prune(sql!("tokens/prune.sql"), cutoff_ms).await
    }
}
