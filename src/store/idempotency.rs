//! Idempotency keys, per tenant: the same key with the same request returns the same
//! run; with another request it is a conflict.

use super::{Store, StoreError, on_reader, on_writer, sql, values};

impl Store {
    /// The request hash and run remembered for `(tenant, key)`.
    pub(super) async fn idempotency_key(
        &self,
        tenant: &str,
        key: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        let found = on_reader!(self, pool => {
            sql!("idempotency/get.sql").query_as(&values![tenant, key])
                .fetch_optional(pool)
                .await
        })?;
        Ok(found)
    }

    /// The run `tenant`'s idempotency `key` led to, read off the table's primary key (the
    /// dashboard's search).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn run_of_idempotency_key(
        &self,
        tenant: &str,
        key: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .idempotency_key(tenant, key)
            .await?
            .map(|(_, run_id)| run_id))
    }

    /// Remembers that `(tenant, key)` led to `run_id`; an existing entry is kept.
    pub(super) async fn remember_idempotency_key(
        &self,
        tenant: &str,
        key: &str,
        request_hash: &str,
        run_id: &str,
    ) -> Result<(), StoreError> {
        let now = self.now_ms();
        on_writer!(self, pool => {
            sql!("idempotency/insert.sql", mysql = "idempotency/insert.mysql.sql")
            .query(&values![tenant, key, request_hash, run_id, now])
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(())
    }

    /// Forgets keys created before `cutoff_ms` (kept at least 24 h by the caller).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn prune_idempotency_keys(&self, cutoff_ms: i64) -> Result<u64, StoreError> {
        self.prune(sql!("idempotency/prune.sql"), cutoff_ms).await
    }
}
