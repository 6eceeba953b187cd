//! Completion webhooks: POST a run's final state, signed with HMAC-SHA256, to the URL
//! of the API key that asked for it. Deliveries live in the database until delivered,
//! so a restart loses none; a failing or hanging endpoint is retried with backoff and
//! never changes a run's outcome.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tokio_util::sync::CancellationToken;

use super::Runs;
use crate::store::Delivery;

/// The header carrying `sha256=<hex HMAC of the body>`.
pub const SIGNATURE_HEADER: &str = "X-Quire-Signature";
/// How long one delivery may take before it counts as failed.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// Deliveries handled per pass.
const BATCH: i64 = 50;

/// The signature of `body` under `secret`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The wait before retry `attempts` (after that many failures): 5 s doubling, at most
/// one hour.
fn backoff(attempts: i64) -> Duration {
    let exponent = u32::try_from(attempts.clamp(0, 10)).unwrap_or(10);
    Duration::from_secs(5 * 2u64.pow(exponent)).min(Duration::from_secs(3600))
}

/// Delivers due webhooks.
#[derive(Debug, Clone)]
pub struct WebhookSender {
    runs: Runs,
    client: reqwest::Client,
    public_url: String,
}

impl WebhookSender {
    /// A sender whose payloads link to `public_url`.
    pub fn new(runs: Runs, public_url: String) -> WebhookSender {
        let client = reqwest::Client::builder()
            .timeout(DELIVERY_TIMEOUT)
            .build()
            .expect("an HTTP client without TLS always builds");
        WebhookSender {
            runs,
            client,
            public_url,
        }
    }

    /// Delivers every `interval` until `shutdown`.
    pub async fn run(self, interval: Duration, shutdown: CancellationToken) {
        let mut ticks = tokio::time::interval(interval);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = ticks.tick() => {}
            }
            if let Err(error) = self.deliver_due().await {
                tracing::warn!(%error, "webhook deliveries failed; retrying later");
            }
        }
    }

    /// One pass over the due deliveries; returns how many succeeded.
    ///
    /// # Errors
    /// When the database is unavailable.
    pub async fn deliver_due(&self) -> Result<usize, crate::store::StoreError> {
        // Claimed for twice the delivery timeout, so no other sender takes them meanwhile.
        let lease = i64::try_from(2 * DELIVERY_TIMEOUT.as_millis()).unwrap_or(i64::MAX);
        let due = self.runs.store.claim_due_deliveries(BATCH, lease).await?;
        let outcomes = futures::future::join_all(due.iter().map(|d| self.deliver(d))).await;
        let mut delivered = 0;
        for (delivery, outcome) in due.iter().zip(outcomes) {
            let record = match outcome {
                Ok(()) => {
                    delivered += 1;
                    Ok(())
                }
                Err(error) => {
                    let retry_at = self.runs.store.clock().now().timestamp_millis()
                        + i64::try_from(backoff(delivery.attempts).as_millis()).unwrap_or(i64::MAX);
                    tracing::warn!(delivery = delivery.id, url = delivery.url, %error, "webhook delivery failed");
                    Err((error, retry_at))
                }
            };
            self.runs
                .store
                .record_delivery(&delivery.id, record)
                .await?;
        }
        Ok(delivered)
    }

    async fn deliver(&self, delivery: &Delivery) -> Result<(), String> {
        let run = self
            .runs
            .store
            .run(&delivery.run_id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the run was deleted")?;
        let secret = self
            .runs
            .store
            .webhook_secret(&run.id)
            .await
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        let body = serde_json::to_vec(&serde_json::json!({
            "event": "run.finished",
            "delivery_id": delivery.id,
            "run": crate::http::run_json(&self.public_url, &run),
        }))
        .expect("JSON serializes");
        let response = self
            .client
            .post(&delivery.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, sign(&secret, &body))
            .body(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("the endpoint answered {}", response.status()))
        }
    }
}
