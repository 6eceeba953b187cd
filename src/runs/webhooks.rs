//! Completion webhooks: POST a run's final state, signed with HMAC-SHA256, to the URL
//! of the API key that asked for it. Deliveries live in the database until delivered,
//! so a restart loses none; a failing or hanging endpoint is retried with backoff and
//! never changes a run's outcome.

use crate::wire::RunView;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tokio_util::sync::CancellationToken;

use super::Runs;
use super::webhook_policy::WebhookClient;
use crate::store::Delivery;

/// The header carrying `sha256=<hex HMAC of the body>`.
pub const SIGNATURE_HEADER: &str = "X-Quire-Signature";
/// Deliveries handled per pass.
const BATCH: i64 = 50;
/// A claimed delivery is left alone this much longer than the delivery timeout, so
/// the claimer can record its outcome; after that another sender may take it.
const CLAIM_MARGIN: Duration = Duration::from_secs(30);

/// The signature of `body` under `secret`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// `error` and its sources, outermost first: reqwest's own message says only that
/// sending failed, the reason (a refused connection, an untrusted certificate) is in
/// its sources.
fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

/// No retry of a delivery waits longer.
const BACKOFF_CAP: Duration = Duration::from_secs(3600);

/// The wait before retry `attempts` (after that many failures): `base` doubling, at
/// most an hour.
fn backoff(base: Duration, attempts: i64) -> Duration {
    let exponent = u32::try_from(attempts.clamp(0, 10)).unwrap_or(10);
    base.saturating_mul(2u32.pow(exponent)).min(BACKOFF_CAP)
}

/// Delivers due webhooks.
#[derive(Debug, Clone)]
pub struct WebhookSender {
    runs: Runs,
    client: WebhookClient,
    public_url: String,
    /// How long one delivery may take before it counts as failed (default 10 s).
    pub timeout: Duration,
    /// The wait after a first failed delivery, doubled after each further one
    /// (default 5 s).
    pub backoff_base: Duration,
}

impl WebhookSender {
    /// A sender posting through `client`, whose payloads link to `public_url`, with a
    /// 10-second timeout per delivery and retries from 5 s.
    pub fn new(runs: Runs, client: WebhookClient, public_url: String) -> WebhookSender {
        WebhookSender {
            runs,
            client,
            public_url,
            timeout: Duration::from_secs(10),
            backoff_base: Duration::from_secs(5),
        }
    }

    /// Delivers every `interval` until `shutdown`.
    pub async fn run(self, interval: Duration, shutdown: CancellationToken) {
        super::every(interval, &shutdown, || async {
            if let Err(error) = self.deliver_due().await {
                tracing::warn!(%error, "webhook deliveries failed; retrying later");
            }
        })
        .await;
    }

    /// One pass over the due deliveries, each claimed so that no other sender posts it
    /// meanwhile; returns how many succeeded.
    ///
    /// # Errors
    /// When the database is unavailable.
    pub async fn deliver_due(&self) -> Result<usize, crate::store::StoreError> {
        let claim = self.timeout.saturating_add(CLAIM_MARGIN);
        let until = self.runs.store.clock().now().timestamp_millis()
            + i64::try_from(claim.as_millis()).unwrap_or(i64::MAX);
        let due = self.runs.store.claim_due_deliveries(BATCH, until).await?;
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
                        + i64::try_from(backoff(self.backoff_base, delivery.attempts).as_millis())
                            .unwrap_or(i64::MAX);
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
            "run": RunView::new(&self.public_url, &run),
        }))
        .expect("JSON serializes");
        let response = self
            .client
            .post(&delivery.url)
            .map_err(|e| e.to_string())?
            .timeout(self.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, sign(&secret, &body))
            .body(body)
            .send()
            .await
            .map_err(|e| causes(&e))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("the endpoint answered {}", response.status()))
        }
    }
}
