//! Completion webhook deliveries: queued in the transaction that ends a run, kept
//! until delivered, retried with backoff.

use super::{Store, StoreError, on_reader, on_writer, sql, values};
use crate::db::Db;

/// A delivery claimed for an attempt.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Delivery {
    /// The delivery's id.
    pub id: String,
    /// The finished run whose final state is sent.
    pub run_id: String,
    /// The endpoint to POST to.
    pub url: String,
    /// Attempts already made, not counting this one.
    pub attempts: i64,
}

/// A delivery as the dashboard shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRecord {
    /// The endpoint.
    pub url: String,
    /// Attempts made.
    pub attempts: i32,
    /// When it was delivered (ms), if it was.
    pub delivered_at: Option<i64>,
    /// Why the last attempt failed: the endpoint's status or the connection's error.
    pub last_error: Option<String>,
    /// When an undelivered one is tried next (ms).
    pub next_attempt_at: i64,
}

/// Queues, inside the transaction `$tx` that ends run `$run_id`, a delivery of its
/// final state when its API key has a webhook.
macro_rules! queue_webhook {
    ($tx:ident, $run_id:expr, $now_ms:expr) => {
        $crate::store::sql!("webhooks/queue.sql")
            .query(&$crate::store::values![
                &uuid::Uuid::now_v7().to_string(),
                $now_ms,
                $run_id
            ])
            .execute(&mut *$tx)
            .await?
    };
}

pub(super) use queue_webhook;

impl Store {
    /// Claims up to `limit` deliveries due now by moving their next attempt to
    /// `until_ms`: another sender skips them while this one tries, and if this one dies
    /// trying they are due again at `until_ms`.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn claim_due_deliveries(
        &self,
        limit: i64,
        until_ms: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        let now = self.now_ms();
        if let Db::Mysql(pool) = &self.db {
            // MySQL's UPDATE returns no rows: lock the due ones, then move each.
            let mut tx = pool.begin().await?;
            let due: Vec<Delivery> = sql!("webhooks/due.mysql.sql")
                .query_as(&values![now, limit])
                .fetch_all(&mut *tx)
                .await?;
            for delivery in &due {
                sql!("webhooks/claim.mysql.sql")
                    .query(&values![&delivery.id, until_ms])
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            return Ok(due);
        }
        let rows = on_writer!(self, pool => {
            sql!("webhooks/claim_due.sql").query_as(&values![now, until_ms, limit])
            .fetch_all(pool)
            .await
        })?;
        Ok(rows)
    }

    /// The secret a delivery is signed with (the webhook's API key's).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn webhook_secret(&self, run_id: &str) -> Result<Option<String>, StoreError> {
        let secret: Option<Option<String>> = on_reader!(self, pool => {
            sql!("webhooks/secret.sql").query_scalar(&values![run_id])
            .fetch_optional(pool)
            .await
        })?;
        Ok(secret.flatten())
    }

    /// Records the outcome of one delivery attempt: delivered, or due again at
    /// `retry_at_ms` with the error.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn record_delivery(
        &self,
        id: &str,
        outcome: Result<(), (String, i64)>,
    ) -> Result<(), StoreError> {
        let now = self.now_ms();
        let (delivered_at, last_error, next_attempt_at) = match outcome {
            Ok(()) => (Some(now), None, now),
            Err((error, retry_at)) => (None, Some(error), retry_at),
        };
        on_writer!(self, pool => {
            sql!("webhooks/record.sql").query(&values![id, delivered_at, &last_error, next_attempt_at])
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(())
    }

    /// Run `run_id`'s deliveries, oldest first.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn run_deliveries(&self, run_id: &str) -> Result<Vec<DeliveryRecord>, StoreError> {
        let deliveries = on_reader!(self, pool => {
            sql!("webhooks/of_run.sql").query_as(&values![run_id]).fetch_all(pool).await
        })?;
        Ok(deliveries)
    }

    /// Deliveries not yet made, and how many of them already failed at least once.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn undelivered_webhooks(&self) -> Result<(i64, i64), StoreError> {
        let counts = on_reader!(self, pool => {
            sql!("webhooks/count_undelivered.sql").query_as(&values![]).fetch_one(pool).await
        })?;
        Ok(counts)
    }

    /// Deletes deliveries created before `cutoff_ms`, delivered or not: an endpoint
    /// that has failed for the whole retention period is given up on.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn prune_deliveries(&self, cutoff_ms: i64) -> Result<u64, StoreError> {
        self.prune(sql!("webhooks/prune.sql"), cutoff_ms).await
    }
}
