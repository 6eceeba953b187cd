//! How the worker waits out Redis: every Redis step is retried with backoff while
//! Redis is unavailable, until it succeeds, is refused, or the worker stops. (A job's
//! own retries follow its queue's [`Backoff`](crate::queue::Backoff).)

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::queue::QueueError;

/// Redis errors are retried this often at first, backing off to a second.
const RETRY_FIRST: Duration = Duration::from_millis(50);
pub(super) const RETRY_MAX: Duration = Duration::from_secs(1);

/// Runs a Redis step, retrying while Redis is unavailable, until it succeeds, is
/// refused, or `stop` fires (then the last error is returned).
pub(super) async fn persist<T, F, Fut>(
    stop: &CancellationToken,
    mut step: F,
) -> Result<T, QueueError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, QueueError>>,
{
    let mut failures = 0;
    loop {
        match step().await {
            Err(error) if error.is_unavailable() && !stop.is_cancelled() => {
                failures += 1;
                tracing::warn!(%error, "Redis is unavailable; retrying");
                pause(stop, backoff(failures)).await;
            }
            other => return other,
        }
    }
}

/// Backoff between Redis retries: doubling from 50 ms to 1 s.
pub(super) fn backoff(failures: u32) -> Duration {
    RETRY_FIRST
        .saturating_mul(1 << failures.min(5))
        .min(RETRY_MAX)
}

/// Sleeps, or less if `stop` fires.
pub(super) async fn pause(stop: &CancellationToken, duration: Duration) {
    tokio::select! {
        () = stop.cancelled() => {}
        () = tokio::time::sleep(duration) => {}
    }
}
